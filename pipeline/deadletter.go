package pipeline

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// DeadLetterSchema is the schema of batches on DeadLetterSide: one row per
// record that could not be processed, with enough to find it again and to
// replay it once the cause is fixed.
var DeadLetterSchema = arrow.NewSchema([]arrow.Field{
	{Name: "source", Type: arrow.BinaryTypes.String},   // the source's name: "generator", "file", "kinesis"
	{Name: "shard", Type: arrow.BinaryTypes.String},    // shard id
	{Name: "position", Type: arrow.BinaryTypes.String}, // Position.String() of the record
	{Name: "error", Type: arrow.BinaryTypes.String},    // why it was rejected
	{Name: "payload", Type: arrow.BinaryTypes.Binary},  // the record's bytes, unchanged
}, nil)

// DeadLetterBuilder accumulates rejected records into DeadLetterSide batches.
type DeadLetterBuilder struct {
	source string
	b      *array.RecordBuilder
	rows   int
	first  Position
	last   Position
}

// NewDeadLetterBuilder returns a builder for dead letters of the named source.
func NewDeadLetterBuilder(mem memory.Allocator, source string) *DeadLetterBuilder {
	return &DeadLetterBuilder{source: source, b: array.NewRecordBuilder(mem, DeadLetterSchema)}
}

// Append records one rejected record.
func (d *DeadLetterBuilder) Append(shard string, pos Position, err error, payload []byte) {
	d.b.Field(0).(*array.StringBuilder).Append(d.source)
	d.b.Field(1).(*array.StringBuilder).Append(shard)
	d.b.Field(2).(*array.StringBuilder).Append(pos.String())
	d.b.Field(3).(*array.StringBuilder).Append(err.Error())
	d.b.Field(4).(*array.BinaryBuilder).Append(payload)
	if d.rows == 0 {
		d.first = pos
	}
	d.last = pos
	d.rows++
}

// Len is the number of dead letters appended since the last NewBatch.
func (d *DeadLetterBuilder) Len() int { return d.rows }

// NewBatch returns the dead letters appended so far as a DeadLetterSide batch
// of shard, or nil if there are none, and resets the builder.
func (d *DeadLetterBuilder) NewBatch(shard string) *Batch {
	if d.rows == 0 {
		return nil
	}
	b := &Batch{Rec: d.b.NewRecordBatch(), Shard: shard, First: d.first, Last: d.last, Side: DeadLetterSide}
	d.rows, d.first, d.last = 0, Position{}, Position{}
	return b
}

// Release frees the builder's buffers.
func (d *DeadLetterBuilder) Release() { d.b.Release() }
