package pipeline

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Columns of RawSchema, the schema of every batch a source reads.
const (
	RawData         = "data"          // the record's payload bytes
	RawPartitionKey = "partition_key" // the producer's partition key ("" if the source has none)
	RawSeq          = "seq"           // Position.Seq of the record
	RawN            = "n"             // Position.N of the record
	RawArrival      = "arrival"       // when the source received the record (Kinesis ApproximateArrivalTimestamp); 0 if unknown
)

// RawSchema is the schema of the batches that sources emit: one row per source
// record, undecoded. Decoding operators turn it into a job's declared schema.
var RawSchema = arrow.NewSchema([]arrow.Field{
	{Name: RawData, Type: arrow.BinaryTypes.Binary},
	{Name: RawPartitionKey, Type: arrow.BinaryTypes.String},
	{Name: RawSeq, Type: arrow.BinaryTypes.String},
	{Name: RawN, Type: arrow.PrimitiveTypes.Int64},
	{Name: RawArrival, Type: arrow.FixedWidthTypes.Timestamp_ms},
}, nil)

// rawArrivalCol is RawArrival's index in RawSchema.
const rawArrivalCol = 4

// RawBuilder accumulates source records into raw batches. It is reused across
// batches: NewBatch resets it.
type RawBuilder struct {
	b       *array.RecordBuilder
	data    *array.BinaryBuilder
	key     *array.StringBuilder
	seq     *array.StringBuilder
	n       *array.Int64Builder
	arrival *array.TimestampBuilder
	first   Position
	last    Position
	rows    int
	sizes   rawSizes // of the batch being built
	prev    rawSizes // of the batch built last, reserved at the next batch's first record
	prevN   int
}

// rawSizes is what a batch's variable-length columns hold, so that the next
// batch can reserve as much up front instead of regrowing its buffers.
type rawSizes struct{ data, key, seq int }

// NewRawBuilder returns a builder for RawSchema batches allocated from mem.
func NewRawBuilder(mem memory.Allocator) *RawBuilder {
	b := array.NewRecordBuilder(mem, RawSchema)
	return &RawBuilder{
		b:       b,
		data:    b.Field(0).(*array.BinaryBuilder),
		key:     b.Field(1).(*array.StringBuilder),
		seq:     b.Field(2).(*array.StringBuilder),
		n:       b.Field(3).(*array.Int64Builder),
		arrival: b.Field(4).(*array.TimestampBuilder),
	}
}

// Append adds one record. arrivalMillis is 0 when unknown.
func (r *RawBuilder) Append(data []byte, partitionKey string, pos Position, arrivalMillis int64) {
	if r.rows == 0 && r.prevN > 0 {
		r.reserve()
	}
	r.data.Append(data)
	r.key.Append(partitionKey)
	r.seq.Append(pos.Seq)
	r.sizes.data += len(data)
	r.sizes.key += len(partitionKey)
	r.sizes.seq += len(pos.Seq)
	r.n.Append(pos.N)
	r.arrival.Append(arrow.Timestamp(arrivalMillis))
	if r.rows == 0 {
		r.first = pos
	}
	r.last = pos
	r.rows++
}

// Len is the number of records appended since the last NewBatch.
func (r *RawBuilder) Len() int { return r.rows }

// NewBatch returns the records appended so far as a batch of shard and resets
// the builder. The next batch's first record reserves what this one held
// (sources read batches of similar size), so a builder between batches, such
// as an idle shard's, holds no buffers. It returns nil when no record was
// appended.
func (r *RawBuilder) NewBatch(shard string) *Batch {
	if r.rows == 0 {
		return nil
	}
	b := &Batch{Rec: r.b.NewRecordBatch(), Shard: shard, First: r.first, Last: r.last}
	r.prev, r.prevN = r.sizes, r.rows
	r.rows, r.first, r.last, r.sizes = 0, Position{}, Position{}, rawSizes{}
	return b
}

// reserve makes room for a batch the size of the one built last.
func (r *RawBuilder) reserve() {
	r.b.Reserve(r.prevN)
	r.data.ReserveData(r.prev.data)
	r.key.ReserveData(r.prev.key)
	r.seq.ReserveData(r.prev.seq)
}

// Release frees the builder's buffers.
func (r *RawBuilder) Release() { r.b.Release() }
