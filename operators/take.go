package operators

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/internal/take"
)

// The selection-vector take that Filter and Enrich gather rows with lives
// in internal/take, which the window operator shares for its late rows.

func takeSupported(t arrow.DataType) error { return take.Supported(t) }

func takeRecord(mem memory.Allocator, rec arrow.RecordBatch, idx []int32) (arrow.RecordBatch, error) {
	return take.Record(mem, rec, idx)
}

func cast[T any](b []byte) []T { return take.Cast[T](b) }

func newBuffer(mem memory.Allocator, n int) *memory.Buffer { return take.NewBuffer(mem, n) }
