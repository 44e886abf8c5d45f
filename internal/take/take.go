// Package take gathers rows of Arrow arrays and records by index.
package take

import (
	"fmt"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// A selection-vector take: Filter turns the predicate's matches into the
// indexes of the kept rows once per batch, then gathers every column with a
// loop over those indexes, typed by the column's physical layout. It copies
// values, never boxes them, and allocates one buffer per Arrow buffer.

// Supported reports whether Data can gather columns of type t.
func Supported(t arrow.DataType) error {
	switch t.ID() {
	case arrow.BOOL, arrow.STRING, arrow.BINARY, arrow.NULL:
		return nil
	}
	if fw, ok := t.(arrow.FixedWidthDataType); ok {
		switch fw.BitWidth() {
		case 8, 16, 32, 64:
			return nil
		}
	}
	return fmt.Errorf("type %s is not supported (supported: bool, utf8, binary and fixed-width types of 8 to 64 bits)", t)
}

// Record returns the rows idx of rec, in order.
func Record(mem memory.Allocator, rec arrow.RecordBatch, idx []int32) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, rec.NumCols())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, c := range rec.Columns() {
		data, err := Data(mem, c.Data(), idx)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", rec.ColumnName(i), err)
		}
		cols[i] = array.MakeFromData(data)
		data.Release()
	}
	return array.NewRecordBatch(rec.Schema(), cols, int64(len(idx))), nil
}

// NewBuffer returns a buffer of n bytes from mem, not zeroed.
func NewBuffer(mem memory.Allocator, n int) *memory.Buffer {
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(n)
	return buf
}

// Data returns the rows idx of d, in order.
func Data(mem memory.Allocator, d arrow.ArrayData, idx []int32) (arrow.ArrayData, error) {
	t, n, off := d.DataType(), len(idx), d.Offset()
	if t.ID() == arrow.NULL {
		return array.NewData(t, n, []*memory.Buffer{nil}, nil, n, 0), nil
	}
	if err := Supported(t); err != nil {
		return nil, err
	}
	// Validity.
	var valid *memory.Buffer
	nulls := 0
	// A slice may not know its null count yet (-1): then look at every bit.
	if d.NullN() != 0 && d.Buffers()[0] != nil {
		valid = NewBuffer(mem, int(bitutil.BytesForBits(int64(n))))
		src, dst := d.Buffers()[0].Bytes(), valid.Bytes()
		clear(dst)
		for j, i := range idx {
			if bitutil.BitIsSet(src, off+int(i)) {
				bitutil.SetBit(dst, j)
			} else {
				nulls++
			}
		}
	}
	bufs := []*memory.Buffer{valid}
	switch t.ID() {
	case arrow.BOOL:
		vals := NewBuffer(mem, int(bitutil.BytesForBits(int64(n))))
		src, dst := d.Buffers()[1].Bytes(), vals.Bytes()
		clear(dst)
		for j, i := range idx {
			if bitutil.BitIsSet(src, off+int(i)) {
				bitutil.SetBit(dst, j)
			}
		}
		bufs = append(bufs, vals)
	case arrow.STRING, arrow.BINARY:
		srcOff := Cast[int32](d.Buffers()[1].Bytes())[off:]
		var srcData []byte
		if b := d.Buffers()[2]; b != nil {
			srcData = b.Bytes()
		}
		size := 0
		for _, i := range idx {
			size += int(srcOff[i+1] - srcOff[i])
		}
		offs, data := NewBuffer(mem, (n+1)*4), NewBuffer(mem, size)
		dstOff, dstData := Cast[int32](offs.Bytes()), data.Bytes()
		pos := int32(0)
		for j, i := range idx {
			dstOff[j] = pos
			pos += int32(copy(dstData[pos:], srcData[srcOff[i]:srcOff[i+1]]))
		}
		dstOff[n] = pos
		bufs = append(bufs, offs, data)
	default:
		width := t.(arrow.FixedWidthDataType).BitWidth() / 8
		vals := NewBuffer(mem, n*width)
		src := d.Buffers()[1].Bytes()[off*width:]
		switch width {
		case 1:
			gather(Cast[uint8](vals.Bytes()), Cast[uint8](src), idx)
		case 2:
			gather(Cast[uint16](vals.Bytes()), Cast[uint16](src), idx)
		case 4:
			gather(Cast[uint32](vals.Bytes()), Cast[uint32](src), idx)
		default:
			gather(Cast[uint64](vals.Bytes()), Cast[uint64](src), idx)
		}
		bufs = append(bufs, vals)
	}
	out := array.NewData(t, n, bufs, nil, nulls, 0)
	for _, b := range bufs {
		if b != nil {
			b.Release()
		}
	}
	return out, nil
}

func gather[T any](dst, src []T, idx []int32) {
	dst = dst[:len(idx)]
	for j, i := range idx {
		dst[j] = src[i]
	}
}

// Cast reinterprets an Arrow buffer's bytes as values of T; Arrow buffers
// are 64-byte aligned.
func Cast[T any](b []byte) []T {
	var zero T
	size := int(unsafe.Sizeof(zero))
	if len(b) < size {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/size)
}
