package pipeline

import (
	"math"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// Event times, watermarks and window bounds are milliseconds since the Unix
// epoch, UTC, as in Arrow's timestamp[ms] and in Flink.
const (
	// MinTime is the watermark of a shard that has seen no record yet.
	MinTime int64 = math.MinInt64
	// MaxTime is the final watermark of a bounded input: it fires every window.
	MaxTime int64 = math.MaxInt64
)

// Millis converts t to event-time milliseconds.
func Millis(t time.Time) int64 { return t.UnixMilli() }

// Time converts event-time milliseconds to a UTC time.
func Time(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// A Side names a secondary output of the pipeline. Batches on a side skip the
// keyed operators and go straight to the side's sink, staged and committed with
// the same checkpoints as the main output.
type Side string

const (
	// MainSide is the pipeline's ordinary output.
	MainSide Side = ""
	// DeadLetterSide carries records that could not be processed (see DeadLetterSchema).
	DeadLetterSide Side = "dead_letter"
)

// Batch is the unit that moves between stages: the rows of one shard, in shard
// order, as an Arrow record batch.
//
// First and Last are the positions of the first and last source record the rows
// came from. MinTime and MaxTime bound the rows' event times once an event-time
// column is known (both 0 before that, as for raw source batches).
type Batch struct {
	Rec     arrow.RecordBatch
	Shard   string
	First   Position
	Last    Position
	MinTime int64
	MaxTime int64
	// Before is, on a main-side batch of a job with an event time, the
	// highest event time that the batch's shard produced before it (its
	// ShardState.MaxEventTime: a child shard's starts from its parents'),
	// MinTime if none. With the job's out-of-orderness bound it is the
	// shard's own watermark where the batch starts, which a keyed stage can
	// judge a row's lateness by, whatever the other shards' pace.
	Before int64
	// Arrival is, on a main-side batch, the latest time at which the source
	// received one of the records it came from (RawArrival), in Unix
	// milliseconds; 0 when the source does not tell.
	Arrival int64
	Side    Side
	// Rows, when not nil, selects the rows of Rec that the batch carries, in
	// ascending order: a keyed stage that runs in several partitions gets
	// each batch with the rows of its partition's keys. Other stages see
	// batches without it.
	Rows []int32
}

// Release drops the batch's Arrow reference. It is safe on a nil batch.
func (b *Batch) Release() {
	if b != nil && b.Rec != nil {
		b.Rec.Release()
		b.Rec = nil
	}
}

// Selected returns the rows of Rec that the batch carries, in ascending
// order: Rows, or all of Rec's rows when Rows is nil, written into *all, which
// is grown as needed and kept for the next call.
func (b *Batch) Selected(all *[]int32) []int32 {
	if b.Rows != nil {
		return b.Rows
	}
	n := int(b.Rec.NumRows())
	for i := len(*all); i < n; i++ {
		*all = append(*all, int32(i))
	}
	return (*all)[:n]
}

// Len is the number of rows in the batch.
func (b *Batch) Len() int {
	if b == nil || b.Rec == nil {
		return 0
	}
	if b.Rows != nil {
		return len(b.Rows)
	}
	return int(b.Rec.NumRows())
}

// WithRecord returns a copy of b's metadata carrying rec instead of b's record.
// It neither retains rec nor releases b.
func (b *Batch) WithRecord(rec arrow.RecordBatch) *Batch {
	nb := *b
	nb.Rec = rec
	return &nb
}
