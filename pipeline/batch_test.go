package pipeline

import (
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Selected is a batch's Rows when it has them, else every row, from a buffer
// that grows and is kept.
func TestSelected(t *testing.T) {
	rb := NewRawBuilder(memory.NewGoAllocator())
	defer rb.Release()
	for i := range 3 {
		rb.Append([]byte("x"), "k", OffsetPosition(int64(i)), 0)
	}
	b := rb.NewBatch("s")
	defer b.Release()
	var all []int32
	if got := b.Selected(&all); !slices.Equal(got, []int32{0, 1, 2}) || len(all) != 3 {
		t.Fatalf("all rows: %v (buffer %v)", got, all)
	}
	b.Rows = []int32{2}
	if got := b.Selected(&all); !slices.Equal(got, []int32{2}) {
		t.Fatalf("Rows: %v", got)
	}
}
