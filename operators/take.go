package operators

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/internal/take"
	"github.com/shardflow/shardflow/pipeline"
)

// The selection-vector take that Filter and Enrich gather rows with lives
// in internal/take, which the window operator shares for its late rows.

func takeSupported(t arrow.DataType) error { return take.Supported(t) }

func takeRecord(mem memory.Allocator, rec arrow.RecordBatch, idx []int32) (arrow.RecordBatch, error) {
	return take.Record(mem, rec, idx)
}

func cast[T any](b []byte) []T { return take.Cast[T](b) }

func newBuffer(mem memory.Allocator, n int) *memory.Buffer { return take.NewBuffer(mem, n) }

// emitRows emits the rows idx of b: b itself when idx keeps every row,
// nothing when it keeps none, else a new batch of those rows. It consumes b;
// what stage names the stage in the error.
func emitRows(mem memory.Allocator, stage string, b *pipeline.Batch, idx []int32, emit pipeline.Emit) error {
	switch len(idx) {
	case b.Len():
		emit(b)
		return nil
	case 0:
		b.Release()
		return nil
	}
	out, err := takeRecord(mem, b.Rec, idx)
	if err != nil {
		b.Release()
		return fmt.Errorf("operators: %s: shard %s: %w", stage, b.Shard, err)
	}
	nb := b.WithRecord(out)
	b.Release()
	emit(nb)
	return nil
}
