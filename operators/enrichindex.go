package operators

import (
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// The index of an Enrich table: a Go map from the key to the table's row.
// Lookups read a batch's keys straight from its Arrow buffers: a string key
// indexes the map as string(bytes), which Go does without allocating, and an
// integer key of any width is widened to int64.

// keyKind is the family of a key column's type; the input's and the
// table's key must be of one family.
type keyKind int

const (
	keyString keyKind = iota + 1
	keyInt
)

func (k keyKind) String() string {
	if k == keyString {
		return "a string"
	}
	return "an integer"
}

func keyKindOf(t arrow.DataType) (keyKind, error) {
	switch t.ID() {
	case arrow.STRING, arrow.LARGE_STRING:
		return keyString, nil
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32:
		return keyInt, nil
	}
	return 0, fmt.Errorf("type %s cannot be a key (want utf8, large_utf8, int8 to int64 or uint8 to uint32)", t)
}

// tableIndex is a loaded table: its key index and the columns to append.
type tableIndex struct {
	colIdx []int             // the appended columns' indexes in the table
	cols   []arrow.ArrayData // the appended columns
	strs   map[string]int32
	ints   map[int64]int32
}

// build indexes the table's key column; a null or repeated key is an error.
func (t *tableIndex) build(key arrow.Array, name string) error {
	n := key.Len()
	if n > math.MaxInt32 {
		return fmt.Errorf("%d rows is more than an index holds", n)
	}
	dup := func(k any, first, second int) error {
		return fmt.Errorf("key column %q has the key %v twice (rows %d and %d): a lookup table needs unique keys", name, k, first+1, second+1)
	}
	for i := range n {
		if key.IsNull(i) {
			return fmt.Errorf("key column %q is null at row %d", name, i+1)
		}
	}
	switch k := key.(type) {
	case interface{ Value(int) string }: // String and LargeString
		t.strs = make(map[string]int32, n)
		for i := range n {
			v := k.Value(i)
			if j, ok := t.strs[v]; ok {
				return dup(fmt.Sprintf("%q", v), int(j), i)
			}
			t.strs[v] = int32(i)
		}
	default:
		t.ints = make(map[int64]int32, n)
		for i := range n {
			v, err := intAt(key, i)
			if err != nil {
				return fmt.Errorf("key column %q: %w", name, err)
			}
			if j, ok := t.ints[v]; ok {
				return dup(v, int(j), i)
			}
			t.ints[v] = int32(i)
		}
	}
	return nil
}

func intAt(a arrow.Array, i int) (int64, error) {
	switch a := a.(type) {
	case *array.Int8:
		return int64(a.Value(i)), nil
	case *array.Int16:
		return int64(a.Value(i)), nil
	case *array.Int32:
		return int64(a.Value(i)), nil
	case *array.Int64:
		return a.Value(i), nil
	case *array.Uint8:
		return int64(a.Value(i)), nil
	case *array.Uint16:
		return int64(a.Value(i)), nil
	case *array.Uint32:
		return int64(a.Value(i)), nil
	}
	return 0, fmt.Errorf("type %s cannot be a key", a.DataType())
}

// lookup appends to rows the table row of each key of d, -1 where the key is
// null or not in the table.
func (t *tableIndex) lookup(d arrow.ArrayData, rows []int32) ([]int32, error) {
	n, off := d.Len(), d.Offset()
	if n == 0 {
		return rows, nil
	}
	valid := validity(d)
	id := d.DataType().ID()
	if (id == arrow.STRING || id == arrow.LARGE_STRING) != (t.strs != nil) {
		return rows, fmt.Errorf("key column is %s, not the type the stage was bound to", d.DataType())
	}
	switch id {
	case arrow.STRING:
		return lookupStrings(t.strs, cast[int32](d.Buffers()[1].Bytes())[off:off+n+1], bufBytes(d, 2), valid, off, rows), nil
	case arrow.LARGE_STRING:
		return lookupStrings(t.strs, cast[int64](d.Buffers()[1].Bytes())[off:off+n+1], bufBytes(d, 2), valid, off, rows), nil
	case arrow.INT8:
		return lookupInts(t.ints, cast[int8](d.Buffers()[1].Bytes())[off:off+n], valid, off, rows), nil
	case arrow.INT16:
		return lookupInts(t.ints, cast[int16](d.Buffers()[1].Bytes())[off:off+n], valid, off, rows), nil
	case arrow.INT32:
		return lookupInts(t.ints, cast[int32](d.Buffers()[1].Bytes())[off:off+n], valid, off, rows), nil
	case arrow.INT64:
		return lookupInts(t.ints, cast[int64](d.Buffers()[1].Bytes())[off:off+n], valid, off, rows), nil
	case arrow.UINT8:
		return lookupInts(t.ints, cast[uint8](d.Buffers()[1].Bytes())[off:off+n], valid, off, rows), nil
	case arrow.UINT16:
		return lookupInts(t.ints, cast[uint16](d.Buffers()[1].Bytes())[off:off+n], valid, off, rows), nil
	case arrow.UINT32:
		return lookupInts(t.ints, cast[uint32](d.Buffers()[1].Bytes())[off:off+n], valid, off, rows), nil
	}
	return rows, fmt.Errorf("key column is %s, not the type the stage was bound to", d.DataType())
}

// validity returns d's validity bitmap, nil when every value is valid. The
// null count of a slice is not known (-1) until computed: only 0 says there
// is no null.
func validity(d arrow.ArrayData) []byte {
	if d.Buffers()[0] == nil || d.NullN() == 0 {
		return nil
	}
	return d.Buffers()[0].Bytes()
}

func bufBytes(d arrow.ArrayData, i int) []byte {
	if b := d.Buffers()[i]; b != nil {
		return b.Bytes()
	}
	return nil
}

func lookupStrings[O int32 | int64](m map[string]int32, offs []O, data, valid []byte, off int, rows []int32) []int32 {
	for i := range len(offs) - 1 {
		r, ok := int32(-1), false
		if valid == nil || bitutil.BitIsSet(valid, off+i) {
			// string(...) in a map index does not allocate.
			if r, ok = m[string(data[offs[i]:offs[i+1]])]; !ok {
				r = -1
			}
		}
		rows = append(rows, r)
	}
	return rows
}

func lookupInts[T int8 | int16 | int32 | int64 | uint8 | uint16 | uint32](m map[int64]int32, vals []T, valid []byte, off int, rows []int32) []int32 {
	for i, v := range vals {
		r, ok := int32(-1), false
		if valid == nil || bitutil.BitIsSet(valid, off+i) {
			if r, ok = m[int64(v)]; !ok {
				r = -1
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// takeOrNull gathers the rows idx of d, with a null where idx is -1: the
// take of take.go with misses.
func takeOrNull(mem memory.Allocator, d arrow.ArrayData, idx []int32) arrow.ArrayData {
	t, n, off := d.DataType(), len(idx), d.Offset()
	if t.ID() == arrow.NULL {
		return array.NewData(t, n, []*memory.Buffer{nil}, nil, n, 0)
	}
	srcValid := validity(d)
	valid := newBuffer(mem, int(bitutil.BytesForBits(int64(n))))
	dstValid := valid.Bytes()
	clear(dstValid)
	nulls := 0
	for j, i := range idx {
		if i >= 0 && (srcValid == nil || bitutil.BitIsSet(srcValid, off+int(i))) {
			bitutil.SetBit(dstValid, j)
		} else {
			nulls++
		}
	}
	switch nulls {
	case n: // no match at all (an empty table included)
		valid.Release()
		a := array.MakeArrayOfNull(mem, t, n)
		defer a.Release()
		out := a.Data()
		out.Retain()
		return out
	case 0:
		valid.Release()
		valid = nil
	}
	bufs := []*memory.Buffer{valid}
	switch t.ID() {
	case arrow.BOOL:
		vals := newBuffer(mem, int(bitutil.BytesForBits(int64(n))))
		src, dst := d.Buffers()[1].Bytes(), vals.Bytes()
		clear(dst)
		for j, i := range idx {
			if i >= 0 && bitutil.BitIsSet(src, off+int(i)) {
				bitutil.SetBit(dst, j)
			}
		}
		bufs = append(bufs, vals)
	case arrow.STRING, arrow.BINARY:
		srcOff := cast[int32](d.Buffers()[1].Bytes())[off:]
		srcData := bufBytes(d, 2)
		size := 0
		for _, i := range idx {
			if i >= 0 {
				size += int(srcOff[i+1] - srcOff[i])
			}
		}
		offs, data := newBuffer(mem, (n+1)*4), newBuffer(mem, size)
		dstOff, dstData := cast[int32](offs.Bytes()), data.Bytes()
		pos := int32(0)
		for j, i := range idx {
			dstOff[j] = pos
			if i >= 0 {
				pos += int32(copy(dstData[pos:], srcData[srcOff[i]:srcOff[i+1]]))
			}
		}
		dstOff[n] = pos
		bufs = append(bufs, offs, data)
	default:
		width := t.(arrow.FixedWidthDataType).BitWidth() / 8
		vals := newBuffer(mem, n*width)
		src := d.Buffers()[1].Bytes()[off*width:]
		switch width {
		case 1:
			gatherOrZero(cast[uint8](vals.Bytes()), cast[uint8](src), idx)
		case 2:
			gatherOrZero(cast[uint16](vals.Bytes()), cast[uint16](src), idx)
		case 4:
			gatherOrZero(cast[uint32](vals.Bytes()), cast[uint32](src), idx)
		default:
			gatherOrZero(cast[uint64](vals.Bytes()), cast[uint64](src), idx)
		}
		bufs = append(bufs, vals)
	}
	out := array.NewData(t, n, bufs, nil, nulls, 0)
	for _, b := range bufs {
		if b != nil {
			b.Release()
		}
	}
	return out
}

func gatherOrZero[T any](dst, src []T, idx []int32) {
	dst = dst[:len(idx)]
	var zero T
	for j, i := range idx {
		if i >= 0 {
			dst[j] = src[i]
		} else {
			dst[j] = zero
		}
	}
}
