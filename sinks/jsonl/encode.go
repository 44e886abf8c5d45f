package jsonl

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

// field is how one column is written: its quoted keys, precomputed.
type field struct {
	key    []byte // `"name":`
	keyB64 []byte // `"name_base64":`
}

func newFields(schema *arrow.Schema) []field {
	fs := make([]field, schema.NumFields())
	for i, f := range schema.Fields() {
		fs[i].key = append(appendString(nil, f.Name), ':')
		fs[i].keyB64 = append(appendString(nil, f.Name+"_base64"), ':')
	}
	return fs
}

// appendRow appends row i of rec as one JSON object and a newline.
func appendRow(dst []byte, fields []field, rec arrow.RecordBatch, i int) ([]byte, error) {
	dst = append(dst, '{')
	for c, col := range rec.Columns() {
		if c > 0 {
			dst = append(dst, ',')
		}
		f := &fields[c]
		if col.IsNull(i) {
			dst = append(dst, f.key...)
			dst = append(dst, "null"...)
			continue
		}
		var err error
		if dst, err = appendValue(dst, f, col, i); err != nil {
			return dst, fmt.Errorf("jsonl: column %q: %w", rec.ColumnName(c), err)
		}
	}
	return append(dst, '}', '\n'), nil
}

func appendValue(dst []byte, f *field, col arrow.Array, i int) ([]byte, error) {
	switch a := col.(type) {
	case *array.String:
		return appendString(append(dst, f.key...), a.Value(i)), nil
	case *array.LargeString:
		return appendString(append(dst, f.key...), a.Value(i)), nil
	case *array.Binary:
		return appendBytes(dst, f, a.Value(i)), nil
	case *array.LargeBinary:
		return appendBytes(dst, f, a.Value(i)), nil
	case *array.Int64:
		return strconv.AppendInt(append(dst, f.key...), a.Value(i), 10), nil
	case *array.Int32:
		return strconv.AppendInt(append(dst, f.key...), int64(a.Value(i)), 10), nil
	case *array.Uint64:
		return strconv.AppendUint(append(dst, f.key...), a.Value(i), 10), nil
	case *array.Float64:
		return appendFloat(append(dst, f.key...), a.Value(i), 64), nil
	case *array.Float32:
		return appendFloat(append(dst, f.key...), float64(a.Value(i)), 32), nil
	case *array.Boolean:
		return strconv.AppendBool(append(dst, f.key...), a.Value(i)), nil
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		t := a.Value(i).ToTime(unit).UTC()
		return appendString(append(dst, f.key...), t.Format(time.RFC3339Nano)), nil
	}
	// Any other type: Arrow's own JSON form of the value.
	b, err := json.Marshal(col.GetOneForMarshal(i))
	if err != nil {
		return dst, err
	}
	return append(append(dst, f.key...), b...), nil
}

func appendBytes(dst []byte, f *field, b []byte) []byte {
	if utf8.Valid(b) {
		return appendString(append(dst, f.key...), string(b))
	}
	dst = append(dst, f.keyB64...)
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"')
}

func appendFloat(dst []byte, v float64, bits int) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(dst, "null"...)
	}
	return strconv.AppendFloat(dst, v, 'g', -1, bits)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, as encoding/json writes it:
// invalid UTF-8 becomes U+FFFD; control characters, <, >, &, U+2028 and
// U+2029 are escaped.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
