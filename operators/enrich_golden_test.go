package operators

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/pipeline"
)

// TestGoldenEnrich decodes testdata/json_mixed.jsonl and enriches it with
// testdata/enrich_pages.csv, kept and dropped; the rows must match
// testdata/enrich_pages.golden (go test -update rewrites it).
func TestGoldenEnrich(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "json_mixed.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema, dec := newOp(t, mem, JSON(clickSchema, JSONOptions{Required: []string{"ts"}}), pipeline.RawSchema)
	schema, project := newOp(t, mem, Project("event_id", "page"), schema)
	table := CSVTable(filepath.Join("testdata", "enrich_pages.csv"), map[string]arrow.DataType{"rank": arrow.PrimitiveTypes.Int32})

	var out bytes.Buffer
	for _, stage := range []*EnrichStage{
		Enrich(table, "page", "category", "rank", "title"),
		Enrich(table, "page", "title").DropUnmatched(),
	} {
		_, op := newOp(t, mem, stage, schema)
		fmt.Fprintf(&out, "# %s\n", stage.Name())
		rb := pipeline.NewRawBuilder(mem)
		off := int64(0)
		for line := range bytes.Lines(in) {
			off += int64(len(line))
			rb.Append(bytes.TrimSuffix(line, []byte("\n")), "", pipeline.OffsetPosition(off), 0)
		}
		raw := rb.NewBatch("testdata/json_mixed.jsonl")
		rb.Release()
		decoded, dead := collect(t, dec, raw)
		releaseAll(dead)
		for _, d := range decoded {
			projected, _ := collect(t, project, d)
			for _, p := range projected {
				enriched, _ := collect(t, op, p)
				for _, e := range enriched {
					for _, r := range rowStrings(e.Rec) {
						fmt.Fprintln(&out, r)
					}
				}
				releaseAll(enriched)
			}
		}
		fmt.Fprintf(&out, "# %v\n", op.(*EnrichOperator).Counters())
	}

	golden := filepath.Join("testdata", "enrich_pages.golden")
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n%s", golden, out.String())
	}
}
