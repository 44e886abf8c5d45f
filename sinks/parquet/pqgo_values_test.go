package parquet

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	pq "github.com/parquet-go/parquet-go"
)

// appendValues appends the Parquet values of rows [lo, hi) of arr, the array of
// column c, to dst. Byte-array values point into arr's buffers; the Parquet
// writer copies them.
//
// Values of optional columns carry their definition level; values of required
// columns written column by column (rowWise false) carry no levels, which is
// all a required column's buffer reads. Row-wise writing needs the column
// index on every value.
func (c *column) appendValues(dst []pq.Value, arr arrow.Array, lo, hi int, rowWise bool) ([]pq.Value, error) {
	var def int
	if c.optional {
		def = 1
	}
	nulls := arr.NullN() > 0
	if nulls && !c.optional {
		return dst, fmt.Errorf("parquet: column %q: null in a non-nullable field", c.name)
	}
	null := pq.NullValue().Level(0, 0, c.leaf)
	if !nulls && !c.optional && !rowWise {
		return c.appendRequired(dst, arr, lo, hi)
	}
	switch a := arr.(type) {
	case *array.Int64:
		v := a.Int64Values()
		for i := lo; i < hi; i++ {
			if nulls && a.IsNull(i) {
				dst = append(dst, null)
				continue
			}
			dst = append(dst, pq.Int64Value(v[i]).Level(0, def, c.leaf))
		}
	case *array.Timestamp:
		v := a.TimestampValues()
		for i := lo; i < hi; i++ {
			if nulls && a.IsNull(i) {
				dst = append(dst, null)
				continue
			}
			dst = append(dst, pq.Int64Value(int64(v[i])).Level(0, def, c.leaf))
		}
	case *array.Float64:
		v := a.Float64Values()
		for i := lo; i < hi; i++ {
			if nulls && a.IsNull(i) {
				dst = append(dst, null)
				continue
			}
			dst = append(dst, pq.DoubleValue(v[i]).Level(0, def, c.leaf))
		}
	case *array.String:
		data, off := byteArrayData(a.Data()), a.ValueOffsets()
		for i := lo; i < hi; i++ {
			if nulls && a.IsNull(i) {
				dst = append(dst, null)
				continue
			}
			dst = append(dst, pq.ByteArrayValue(data[off[i]:off[i+1]]).Level(0, def, c.leaf))
		}
	case *array.Binary:
		data, off := byteArrayData(a.Data()), a.ValueOffsets()
		for i := lo; i < hi; i++ {
			if nulls && a.IsNull(i) {
				dst = append(dst, null)
				continue
			}
			dst = append(dst, pq.ByteArrayValue(data[off[i]:off[i+1]]).Level(0, def, c.leaf))
		}
	case *array.Int32:
		v := a.Int32Values()
		for i := lo; i < hi; i++ {
			if nulls && a.IsNull(i) {
				dst = append(dst, null)
				continue
			}
			dst = append(dst, pq.Int32Value(v[i]).Level(0, def, c.leaf))
		}
	case *array.Date32:
		v := a.Date32Values()
		for i := lo; i < hi; i++ {
			if nulls && a.IsNull(i) {
				dst = append(dst, null)
				continue
			}
			dst = append(dst, pq.Int32Value(int32(v[i])).Level(0, def, c.leaf))
		}
	case *array.Float32:
		v := a.Float32Values()
		for i := lo; i < hi; i++ {
			if nulls && a.IsNull(i) {
				dst = append(dst, null)
				continue
			}
			dst = append(dst, pq.FloatValue(v[i]).Level(0, def, c.leaf))
		}
	case *array.Boolean:
		for i := lo; i < hi; i++ {
			if nulls && a.IsNull(i) {
				dst = append(dst, null)
				continue
			}
			dst = append(dst, pq.BooleanValue(a.Value(i)).Level(0, def, c.leaf))
		}
	default:
		return dst, fmt.Errorf("parquet: column %q: got an array of %s, want %s", c.name, arr.DataType(), c.typ)
	}
	return dst, nil
}

// byteArrayData is the whole value buffer of a string or binary array; the
// array's ValueOffsets index into it.
func byteArrayData(d arrow.ArrayData) []byte {
	if bufs := d.Buffers(); len(bufs) > 2 && bufs[2] != nil {
		return bufs[2].Bytes()
	}
	return nil
}

// appendRequired is appendValues for a required column without nulls,
// written column by column.
func (c *column) appendRequired(dst []pq.Value, arr arrow.Array, lo, hi int) ([]pq.Value, error) {
	switch a := arr.(type) {
	case *array.Int64:
		for _, v := range a.Int64Values()[lo:hi] {
			dst = append(dst, pq.Int64Value(v))
		}
	case *array.Timestamp:
		for _, v := range a.TimestampValues()[lo:hi] {
			dst = append(dst, pq.Int64Value(int64(v)))
		}
	case *array.Float64:
		for _, v := range a.Float64Values()[lo:hi] {
			dst = append(dst, pq.DoubleValue(v))
		}
	case *array.String:
		data, off := byteArrayData(a.Data()), a.ValueOffsets()
		for i := lo; i < hi; i++ {
			dst = append(dst, pq.ByteArrayValue(data[off[i]:off[i+1]]))
		}
	case *array.Binary:
		data, off := byteArrayData(a.Data()), a.ValueOffsets()
		for i := lo; i < hi; i++ {
			dst = append(dst, pq.ByteArrayValue(data[off[i]:off[i+1]]))
		}
	case *array.Int32:
		for _, v := range a.Int32Values()[lo:hi] {
			dst = append(dst, pq.Int32Value(v))
		}
	case *array.Date32:
		for _, v := range a.Date32Values()[lo:hi] {
			dst = append(dst, pq.Int32Value(int32(v)))
		}
	case *array.Float32:
		for _, v := range a.Float32Values()[lo:hi] {
			dst = append(dst, pq.FloatValue(v))
		}
	case *array.Boolean:
		for i := lo; i < hi; i++ {
			dst = append(dst, pq.BooleanValue(a.Value(i)))
		}
	default:
		return dst, fmt.Errorf("parquet: column %q: got an array of %s, want %s", c.name, arr.DataType(), c.typ)
	}
	return dst, nil
}
