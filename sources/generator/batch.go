package generator

import (
	"fmt"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/pipeline"
)

// A shard reader writes its batches' Arrow buffers itself rather than through
// a pipeline.RawBuilder: each event is encoded straight into the data buffer
// (no copy per record), no column gets a validity bitmap (none has nulls),
// and the seq and arrival columns, empty and zero in every row of a
// generator, share one read-only zeroed buffer. TestBatchMatchesRawBuilder
// checks the result against a RawBuilder's for the same records.

// rawTypes are the column types the reader writes, in pipeline.RawSchema's
// order: data, partition_key, seq, n, arrival.
var rawTypes = [...]arrow.DataType{
	arrow.BinaryTypes.Binary,
	arrow.BinaryTypes.String,
	arrow.BinaryTypes.String,
	arrow.PrimitiveTypes.Int64,
	arrow.FixedWidthTypes.Timestamp_ms,
}

// checkRawSchema reports whether pipeline.RawSchema still has the layout
// that a reader writes.
func checkRawSchema() error {
	fields := pipeline.RawSchema.Fields()
	ok := len(fields) == len(rawTypes)
	for k := 0; ok && k < len(fields); k++ {
		ok = arrow.TypeEqual(fields[k].Type, rawTypes[k])
	}
	if !ok {
		return fmt.Errorf("generator: pipeline.RawSchema is %v, which the generator's batch writer does not know", pipeline.RawSchema)
	}
	return nil
}

// maxKeyLen is the length of the longest partition key, a user_id.
const maxKeyLen = userIDLen

// zeros holds a read-only zeroed slice that readers share, grown on demand.
var zeros struct {
	mu sync.Mutex
	b  []byte
}

// zeroBytes returns n zero bytes that nobody may write.
func zeroBytes(n int) []byte {
	zeros.mu.Lock()
	defer zeros.mu.Unlock()
	if len(zeros.b) < n {
		zeros.b = make([]byte, max(n, 2*len(zeros.b), 16<<10))
	}
	return zeros.b[:n]
}

// readBatch encodes the n events from r.next on into a new batch.
func (r *reader) readBatch(n int) *pipeline.Batch {
	mem := r.src.cfg.Mem
	first := r.next

	data := memory.NewResizableBuffer(mem)
	est := maxEventLen * n // the first batch
	if r.perEvent > 0 {
		est = r.perEvent*n + r.perEvent*n/16 + maxEventLen
	}
	data.Reserve(est)
	dataOffs := newBuffer(mem, 4*(n+1))
	keys := newBuffer(mem, maxKeyLen*n)
	keyOffs := newBuffer(mem, 4*(n+1))
	ns := newBuffer(mem, 8*n)

	b := data.Buf()[:0]
	off := arrow.Int32Traits.CastFromBytes(dataOffs.Bytes())
	kb := keys.Bytes()[:0]
	keyOff := arrow.Int32Traits.CastFromBytes(keyOffs.Bytes())
	nv := arrow.Int64Traits.CastFromBytes(ns.Bytes())
	off[0], keyOff[0] = 0, 0
	for k := range n {
		if cap(b)-len(b) < maxEventLen {
			data.Reserve(cap(b) + cap(b)/2 + maxEventLen)
			b = data.Buf()[:len(b)]
		}
		var key string
		b, key, _ = r.enc.appendEvent(b, r.shard, r.next)
		if cap(b) != len(data.Buf()) {
			// The event was longer than maxEventLen and append moved b.
			data.Reserve(len(b) + maxEventLen)
			copy(data.Buf(), b)
			b = data.Buf()[:len(b)]
		}
		r.next++
		off[k+1] = int32(len(b))
		kb = append(kb, key...) // never beyond cap: maxKeyLen per event
		keyOff[k+1] = int32(len(kb))
		nv[k] = r.next
	}
	data.ResizeNoShrink(len(b))
	keys.ResizeNoShrink(len(kb))
	r.perEvent = (len(b) + n - 1) / n

	z := memory.NewBufferBytes(zeroBytes(8 * n))             // arrival: n zero timestamps
	seqOffs := memory.NewBufferBytes(zeroBytes(4 * (n + 1))) // seq: n empty strings
	noBytes := memory.NewBufferBytes(nil)
	cols := [...]arrow.Array{
		newArray(rawTypes[0], n, nil, dataOffs, data),
		newArray(rawTypes[1], n, nil, keyOffs, keys),
		newArray(rawTypes[2], n, nil, seqOffs, noBytes),
		newArray(rawTypes[3], n, nil, ns),
		newArray(rawTypes[4], n, nil, z),
	}
	for _, buf := range [...]*memory.Buffer{data, dataOffs, keys, keyOffs, ns} {
		buf.Release() // the arrays hold them now
	}
	rec := array.NewRecordBatch(pipeline.RawSchema, cols[:], int64(n))
	for _, c := range cols {
		c.Release()
	}
	return &pipeline.Batch{
		Rec:   rec,
		Shard: r.id,
		First: pipeline.Position{N: first + 1},
		Last:  pipeline.Position{N: r.next},
	}
}

// newBuffer allocates a buffer of size bytes from mem; its bytes are not
// necessarily zero.
func newBuffer(mem memory.Allocator, size int) *memory.Buffer {
	b := memory.NewResizableBuffer(mem)
	b.ResizeNoShrink(size)
	return b
}

// newArray makes an array of n rows without nulls from its buffers.
func newArray(t arrow.DataType, n int, bufs ...*memory.Buffer) arrow.Array {
	d := array.NewData(t, n, bufs, nil, 0, 0)
	defer d.Release()
	return array.MakeFromData(d)
}
