package rowjson

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Encoder writes rows of record batches of one schema as JSON objects (see
// the package documentation for the values). It is used by one goroutine.
type Encoder struct {
	schema  *arrow.Schema
	keys    [][]byte // `"name":` per column, after a comma except for the first
	keysB64 [][]byte // `"name_base64":`, likewise; nil for non-binary columns
	cols    []appendFunc
}

// appendFunc appends the key and the JSON value of row i of one column.
type appendFunc func(dst []byte, i int) ([]byte, error)

// NewEncoder returns an encoder for schema. It fails when two columns would
// write the same key: duplicate names, or a binary column "x" next to a
// column "x_base64".
func NewEncoder(schema *arrow.Schema) (*Encoder, error) {
	e := &Encoder{schema: schema}
	seen := make(map[string]bool, schema.NumFields())
	claim := func(name string) error {
		if seen[name] {
			return fmt.Errorf("rowjson: key %q appears twice (binary columns also use name_base64)", name)
		}
		seen[name] = true
		return nil
	}
	for i, f := range schema.Fields() {
		if err := claim(f.Name); err != nil {
			return nil, err
		}
		e.keys = append(e.keys, key(i, f.Name))
		var kb []byte
		if isBinary(f.Type) {
			if err := claim(f.Name + "_base64"); err != nil {
				return nil, err
			}
			kb = key(i, f.Name+"_base64")
		}
		e.keysB64 = append(e.keysB64, kb)
	}
	return e, nil
}

func key(i int, name string) []byte {
	var k []byte
	if i > 0 {
		k = append(k, ',')
	}
	return append(appendString(k, name), ':')
}

func isBinary(t arrow.DataType) bool {
	return t.ID() == arrow.BINARY || t.ID() == arrow.LARGE_BINARY
}

// Bind prepares the encoder for the rows of rec, which has the encoder's
// schema (the sinks check it). AppendRow then encodes rows of rec until the
// next Bind.
func (e *Encoder) Bind(rec arrow.RecordBatch) error {
	if int(rec.NumCols()) != len(e.keys) {
		return fmt.Errorf("rowjson: batch has %d columns, the schema %d", rec.NumCols(), len(e.keys))
	}
	e.cols = e.cols[:0]
	for c, col := range rec.Columns() {
		e.cols = append(e.cols, e.column(c, col))
	}
	return nil
}

// AppendRow appends row i of the bound batch as a JSON object, without a
// newline. It fails only for a value of an unlisted type that arrow-go cannot
// marshal.
func (e *Encoder) AppendRow(dst []byte, i int) ([]byte, error) {
	dst = append(dst, '{')
	for _, f := range e.cols {
		var err error
		if dst, err = f(dst, i); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// column returns the append function of column c, holding col.
func (e *Encoder) column(c int, col arrow.Array) appendFunc {
	key := e.keys[c]
	keyed := func(value func(dst []byte, i int) []byte) appendFunc {
		return func(dst []byte, i int) ([]byte, error) {
			dst = append(dst, key...)
			if col.IsNull(i) {
				return append(dst, "null"...), nil
			}
			return value(dst, i), nil
		}
	}
	binary := func(value func(i int) []byte) appendFunc {
		keyB64 := e.keysB64[c]
		return func(dst []byte, i int) ([]byte, error) {
			if col.IsNull(i) {
				return append(append(dst, key...), "null"...), nil
			}
			return appendBytes(dst, key, keyB64, value(i)), nil
		}
	}
	switch a := col.(type) {
	case *array.String:
		return keyed(func(b []byte, i int) []byte { return appendString(b, a.Value(i)) })
	case *array.LargeString:
		return keyed(func(b []byte, i int) []byte { return appendString(b, a.Value(i)) })
	case *array.Binary:
		if e.keysB64[c] != nil {
			return binary(a.Value)
		}
	case *array.LargeBinary:
		if e.keysB64[c] != nil {
			return binary(a.Value)
		}
	case *array.Boolean:
		return keyed(func(b []byte, i int) []byte { return strconv.AppendBool(b, a.Value(i)) })
	case *array.Int8:
		return keyed(func(b []byte, i int) []byte { return strconv.AppendInt(b, int64(a.Value(i)), 10) })
	case *array.Int16:
		return keyed(func(b []byte, i int) []byte { return strconv.AppendInt(b, int64(a.Value(i)), 10) })
	case *array.Int32:
		return keyed(func(b []byte, i int) []byte { return strconv.AppendInt(b, int64(a.Value(i)), 10) })
	case *array.Int64:
		return keyed(func(b []byte, i int) []byte { return strconv.AppendInt(b, a.Value(i), 10) })
	case *array.Uint8:
		return keyed(func(b []byte, i int) []byte { return strconv.AppendUint(b, uint64(a.Value(i)), 10) })
	case *array.Uint16:
		return keyed(func(b []byte, i int) []byte { return strconv.AppendUint(b, uint64(a.Value(i)), 10) })
	case *array.Uint32:
		return keyed(func(b []byte, i int) []byte { return strconv.AppendUint(b, uint64(a.Value(i)), 10) })
	case *array.Uint64:
		return keyed(func(b []byte, i int) []byte { return strconv.AppendUint(b, a.Value(i), 10) })
	case *array.Float32:
		return keyed(func(b []byte, i int) []byte { return appendFloat(b, float64(a.Value(i)), 32) })
	case *array.Float64:
		return keyed(func(b []byte, i int) []byte { return appendFloat(b, a.Value(i), 64) })
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		layout := timestampLayout(unit)
		return keyed(func(b []byte, i int) []byte {
			b = append(b, '"')
			b = a.Value(i).ToTime(unit).UTC().AppendFormat(b, layout)
			return append(b, '"')
		})
	case *array.Date32:
		return keyed(func(b []byte, i int) []byte {
			b = append(b, '"')
			b = a.Value(i).ToTime().UTC().AppendFormat(b, time.DateOnly)
			return append(b, '"')
		})
	}
	// Any other type (or a binary array under a non-binary field): arrow-go's
	// JSON form of the value.
	name := e.schema.Field(c).Name
	return func(dst []byte, i int) ([]byte, error) {
		v, err := json.Marshal(col.GetOneForMarshal(i))
		if err != nil {
			return dst, fmt.Errorf("rowjson: column %q of type %s: %w", name, col.DataType(), err)
		}
		return append(append(dst, key...), v...), nil
	}
}

// timestampLayout is RFC 3339 in UTC with the fraction digits of unit.
func timestampLayout(unit arrow.TimeUnit) string {
	switch unit {
	case arrow.Millisecond:
		return "2006-01-02T15:04:05.000Z07:00"
	case arrow.Microsecond:
		return "2006-01-02T15:04:05.000000Z07:00"
	case arrow.Nanosecond:
		return "2006-01-02T15:04:05.000000000Z07:00"
	}
	return time.RFC3339
}

// appendBytes appends v under key as a string when it is valid UTF-8, and
// base64-encoded under keyB64 otherwise.
func appendBytes(dst, key, keyB64, v []byte) []byte {
	if utf8.Valid(v) {
		// appendString neither keeps nor changes the string, so it may share
		// v's bytes instead of copying them (string(v) would allocate).
		return appendString(append(dst, key...), unsafe.String(unsafe.SliceData(v), len(v)))
	}
	dst = append(dst, keyB64...)
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, v)
	return append(dst, '"')
}

func appendFloat(dst []byte, v float64, bits int) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(dst, "null"...)
	}
	return strconv.AppendFloat(dst, v, 'g', -1, bits)
}
