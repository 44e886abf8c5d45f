package operators

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/expr"
	"github.com/shardflow/shardflow/pipeline"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// TestGoldenClickstream decodes a small mixed input (good records, bad JSON,
// wrong types, a missing event time) and then filters and projects it; the
// rows and dead letters must match testdata/json_mixed.golden.
func TestGoldenClickstream(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "json_mixed.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	schema, dec := newOp(t, mem, JSON(clickSchema, JSONOptions{Required: []string{"ts"}}), pipeline.RawSchema)
	schema, filter := newOp(t, mem, Filter(expr.Ne("page", "")), schema)
	_, project := newOp(t, mem, Project("ts", "page", "event_type", "user_id", "price"), schema)

	// One record per line; a line's position is the byte offset after it,
	// as the file source addresses records.
	rb := pipeline.NewRawBuilder(mem)
	off := int64(0)
	for line := range bytes.Lines(in) {
		off += int64(len(line))
		rb.Append(bytes.TrimSuffix(line, []byte("\n")), "", pipeline.OffsetPosition(off), 0)
	}
	raw := rb.NewBatch("testdata/json_mixed.jsonl")
	rb.Release()

	var out bytes.Buffer
	decoded, dead := collect(t, dec, raw)
	defer releaseAll(dead)
	fmt.Fprintf(&out, "# decoded: %v\n", dec.(*JSONOperator).Counters())
	for _, b := range decoded {
		fmt.Fprintf(&out, "batch %s %s..%s\n", b.Shard, b.First, b.Last)
		for _, r := range rowStrings(b.Rec) {
			fmt.Fprintln(&out, r)
		}
	}
	fmt.Fprintln(&out, "# dead letters")
	for _, b := range dead {
		fmt.Fprintf(&out, "batch %s %s..%s side=%s\n", b.Shard, b.First, b.Last, b.Side)
		for _, d := range deadLetters(t, b) {
			fmt.Fprintln(&out, d)
		}
	}
	fmt.Fprintf(&out, "# %s | %s\n", Filter(expr.Ne("page", "")).Name(), Project("ts", "page", "event_type", "user_id", "price").Name())
	for _, b := range decoded {
		filtered, _ := collect(t, filter, b)
		for _, f := range filtered {
			projected, _ := collect(t, project, f)
			for _, p := range projected {
				for _, r := range rowStrings(p.Rec) {
					fmt.Fprintln(&out, r)
				}
			}
			releaseAll(projected)
		}
	}

	golden := filepath.Join("testdata", "json_mixed.golden")
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
