package operators

import (
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/pipeline"
)

// A raw batch whose record is a slice (its data column's offsets do not
// start at zero) decodes the sliced records, and dead letters carry their
// own payloads and positions.
func TestJSONSlicedRawBatch(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	_, op := newOp(t, mem, JSON(typesSchema, JSONOptions{Required: []string{"ts"}}), pipeline.RawSchema)
	full := rawBatch(mem, "shard-1", [][]byte{
		[]byte(`{"s":"zero","ts":0}`), []byte(`{"s":"one","ts":1}`), []byte(`not json`), []byte(`{"s":"three","ts":3}`),
	})
	defer full.Release()
	sliced := full.WithRecord(full.Rec.NewSlice(1, 4))

	main, dead := collect(t, op, sliced)
	defer releaseAll(main)
	defer releaseAll(dead)
	if len(main) != 1 {
		t.Fatalf("%d main batches, want 1", len(main))
	}
	want := []string{
		`s=one i=null f=null b=null ts=1970-01-01T00:00:00.001Z`,
		`s=three i=null f=null b=null ts=1970-01-01T00:00:00.003Z`,
	}
	if got := rowStrings(main[0].Rec); !slices.Equal(got, want) {
		t.Errorf("rows %q, want %q", got, want)
	}
	if len(dead) != 1 || dead[0].Len() != 1 {
		t.Fatalf("got %d dead-letter batches, want one of one row", len(dead))
	}
	if dl := deadLetters(t, dead[0])[0]; dl.payload != "not json" || dl.position != "3" {
		t.Errorf("dead letter %v: want payload %q at position 3", dl, "not json")
	}
}
