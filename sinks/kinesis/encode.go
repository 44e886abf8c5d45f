package kinesis

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// appendFunc appends the JSON value of row i of one column.
type appendFunc func(buf []byte, i int) ([]byte, error)

// rowJSON encodes rows of a record batch as JSON objects, one key per column
// in schema order. Strings stay strings (invalid UTF-8 becomes U+FFFD),
// binary becomes base64, integers and booleans stay numbers and booleans,
// floats are numbers (NaN and infinities: null), timestamps are RFC 3339
// strings in UTC with the unit's precision, date32 is "YYYY-MM-DD", nulls are
// null, and any other type is encoded as arrow-go's JSON marshalling does.
type rowJSON struct {
	keys [][]byte // `"name":` per column, the first without the comma
	cols []appendFunc
}

func newRowJSON(schema *arrow.Schema) *rowJSON {
	r := &rowJSON{}
	for i, f := range schema.Fields() {
		var k []byte
		if i > 0 {
			k = append(k, ',')
		}
		k = appendString(k, f.Name)
		r.keys = append(r.keys, append(k, ':'))
	}
	return r
}

// bind prepares the column encoders for the arrays of rec.
func (r *rowJSON) bind(rec arrow.RecordBatch) {
	r.cols = r.cols[:0]
	for _, col := range rec.Columns() {
		r.cols = append(r.cols, columnJSON(col))
	}
}

// appendRow appends row i as a JSON object.
func (r *rowJSON) appendRow(buf []byte, i int) ([]byte, error) {
	buf = append(buf, '{')
	for c, f := range r.cols {
		buf = append(buf, r.keys[c]...)
		var err error
		if buf, err = f(buf, i); err != nil {
			return buf, err
		}
	}
	return append(buf, '}'), nil
}

func columnJSON(col arrow.Array) appendFunc {
	nullable := func(f func(buf []byte, i int) []byte) appendFunc {
		return func(buf []byte, i int) ([]byte, error) {
			if col.IsNull(i) {
				return append(buf, "null"...), nil
			}
			return f(buf, i), nil
		}
	}
	switch a := col.(type) {
	case *array.String:
		return nullable(func(b []byte, i int) []byte { return appendString(b, a.Value(i)) })
	case *array.LargeString:
		return nullable(func(b []byte, i int) []byte { return appendString(b, a.Value(i)) })
	case *array.Binary:
		return nullable(func(b []byte, i int) []byte { return appendBase64(b, a.Value(i)) })
	case *array.LargeBinary:
		return nullable(func(b []byte, i int) []byte { return appendBase64(b, a.Value(i)) })
	case *array.Boolean:
		return nullable(func(b []byte, i int) []byte { return strconv.AppendBool(b, a.Value(i)) })
	case *array.Int8:
		return nullable(func(b []byte, i int) []byte { return strconv.AppendInt(b, int64(a.Value(i)), 10) })
	case *array.Int16:
		return nullable(func(b []byte, i int) []byte { return strconv.AppendInt(b, int64(a.Value(i)), 10) })
	case *array.Int32:
		return nullable(func(b []byte, i int) []byte { return strconv.AppendInt(b, int64(a.Value(i)), 10) })
	case *array.Int64:
		return nullable(func(b []byte, i int) []byte { return strconv.AppendInt(b, a.Value(i), 10) })
	case *array.Uint8:
		return nullable(func(b []byte, i int) []byte { return strconv.AppendUint(b, uint64(a.Value(i)), 10) })
	case *array.Uint16:
		return nullable(func(b []byte, i int) []byte { return strconv.AppendUint(b, uint64(a.Value(i)), 10) })
	case *array.Uint32:
		return nullable(func(b []byte, i int) []byte { return strconv.AppendUint(b, uint64(a.Value(i)), 10) })
	case *array.Uint64:
		return nullable(func(b []byte, i int) []byte { return strconv.AppendUint(b, a.Value(i), 10) })
	case *array.Float32:
		return nullable(func(b []byte, i int) []byte { return appendFloat(b, float64(a.Value(i)), 32) })
	case *array.Float64:
		return nullable(func(b []byte, i int) []byte { return appendFloat(b, a.Value(i), 64) })
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		layout := map[arrow.TimeUnit]string{
			arrow.Second: "2006-01-02T15:04:05Z07:00", arrow.Millisecond: "2006-01-02T15:04:05.000Z07:00",
			arrow.Microsecond: "2006-01-02T15:04:05.000000Z07:00", arrow.Nanosecond: "2006-01-02T15:04:05.000000000Z07:00",
		}[unit]
		return nullable(func(b []byte, i int) []byte {
			b = append(b, '"')
			b = a.Value(i).ToTime(unit).UTC().AppendFormat(b, layout)
			return append(b, '"')
		})
	case *array.Date32:
		return nullable(func(b []byte, i int) []byte {
			b = append(b, '"')
			b = a.Value(i).ToTime().UTC().AppendFormat(b, time.DateOnly)
			return append(b, '"')
		})
	}
	return func(buf []byte, i int) ([]byte, error) {
		v, err := json.Marshal(col.GetOneForMarshal(i))
		if err != nil {
			return buf, fmt.Errorf("kinesis: column of type %s: %w", col.DataType(), err)
		}
		return append(buf, v...), nil
	}
}

func appendFloat(b []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, bits)
}

func appendBase64(b []byte, v []byte) []byte {
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, v)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
