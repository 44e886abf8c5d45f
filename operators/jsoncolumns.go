package operators

import (
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// column accumulates one decoded column of a batch in Go slices that keep
// their capacity from batch to batch; build copies them into Arrow buffers
// of the operator's allocator. Values are written by index into slices sized
// at reset, so the hot path stores no pointers (no GC write barriers) and
// does none of an Arrow builder's per-value bookkeeping.
type column struct {
	kind  fieldKind
	dt    arrow.DataType
	n     int
	nulls int
	valid []byte // validity bitmap, cleared by reset

	i64  []int64   // int64 and timestamp values, sized by reset
	f64  []float64 // float64 values, sized by reset
	bits []byte    // bool values, cleared by reset
	offs []int32   // string offsets, sized by reset; offs[0] = 0
	data []byte    // string bytes: data[:dlen] committed, then the staged value
	dlen int
}

// reset empties the column for a batch of up to rows rows.
func (c *column) reset(rows int) {
	c.n, c.nulls, c.dlen = 0, 0, 0
	nb := int(bitutil.BytesForBits(int64(rows)))
	c.valid = resize(c.valid, nb)
	clear(c.valid)
	switch c.kind {
	case kindInt64, kindTimestamp:
		c.i64 = resize(c.i64, rows)
	case kindFloat64:
		c.f64 = resize(c.f64, rows)
	case kindBool:
		c.bits = resize(c.bits, nb)
		clear(c.bits)
	case kindString:
		c.offs = resize(c.offs, rows+1)
		c.offs[0] = 0
	}
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n, n+n/4)
	}
	return s[:n]
}

// stage copies a string value after the committed bytes; appendSlot
// commits it. A later value of the same record overwrites it, and a rejected
// record leaves nothing behind.
func (c *column) stage(v []byte) int32 {
	if need := c.dlen + len(v); need > len(c.data) {
		grown := make([]byte, max(need, 2*len(c.data), 4096))
		copy(grown, c.data[:c.dlen])
		c.data = grown
	}
	copy(c.data[c.dlen:], v)
	return int32(len(v))
}

func (c *column) appendNull() {
	switch c.kind {
	case kindInt64, kindTimestamp:
		c.i64[c.n] = 0
	case kindFloat64:
		c.f64[c.n] = 0
	case kindString:
		c.offs[c.n+1] = int32(c.dlen)
	}
	c.n++
	c.nulls++
}

// appendSlot appends a set slot's value.
func (c *column) appendSlot(s *slot) {
	c.valid[c.n>>3] |= 1 << (c.n & 7)
	switch c.kind {
	case kindInt64, kindTimestamp:
		c.i64[c.n] = s.i
	case kindFloat64:
		c.f64[c.n] = s.f
	case kindBool:
		if s.b {
			c.bits[c.n>>3] |= 1 << (c.n & 7)
		}
	case kindString:
		c.dlen += int(s.l)
		c.offs[c.n+1] = int32(c.dlen)
	}
	c.n++
}

// build returns the column as an Arrow array allocated from mem.
func (c *column) build(mem memory.Allocator) arrow.Array {
	bufs := make([]*memory.Buffer, 0, 3)
	if c.nulls > 0 {
		bufs = append(bufs, copyBuffer(mem, c.valid[:bitutil.BytesForBits(int64(c.n))]))
	} else {
		bufs = append(bufs, nil)
	}
	switch c.kind {
	case kindInt64, kindTimestamp:
		bufs = append(bufs, copyBuffer(mem, bytesOf(c.i64[:c.n])))
	case kindFloat64:
		bufs = append(bufs, copyBuffer(mem, bytesOf(c.f64[:c.n])))
	case kindBool:
		bufs = append(bufs, copyBuffer(mem, c.bits[:bitutil.BytesForBits(int64(c.n))]))
	case kindString:
		bufs = append(bufs, copyBuffer(mem, bytesOf(c.offs[:c.n+1])), copyBuffer(mem, c.data[:c.dlen]))
	}
	data := array.NewData(c.dt, c.n, bufs, nil, c.nulls, 0)
	for _, b := range bufs {
		if b != nil {
			b.Release()
		}
	}
	arr := array.MakeFromData(data)
	data.Release()
	return arr
}

func copyBuffer(mem memory.Allocator, b []byte) *memory.Buffer {
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(len(b))
	copy(buf.Bytes(), b)
	return buf
}

func bytesOf[T int32 | int64 | float64](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	var zero T
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*int(unsafe.Sizeof(zero)))
}
