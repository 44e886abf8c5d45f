package windows

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/shardflow/shardflow/internal/spacesaving"
)

// TopK lists the k most frequent values of a string or integer column with a
// Space-Saving sketch of max(10·k, 100) counters (internal/spacesaving). The
// output is a string holding a JSON array, heaviest first (ties by value):
//
//	[{"value":"/home","count":812,"error":0},{"value":"/cart","count":95,"error":3}]
//
// where the value's true count lies in [count-error, count]; values of
// integer columns are JSON numbers. Every value more frequent than 1/capacity
// of the group's rows is monitored, so on skewed data the top k are exact
// (error 0 once a value is heavy from its first rows). No value gives [].
//
// JSON in a string column rather than a list<struct<value, count>>: the
// Parquet sink writes flat columns only, and DuckDB reads the string with
// its JSON functions, e.g.
// from_json(top_pages, '[{"value":"VARCHAR","count":"BIGINT","error":"BIGINT"}]').
func TopK(name, col string, k int) Agg { return Custom(name, col, topKFunc{k: k}) }

type topKFunc struct{ k int }

func (f topKFunc) String() string { return "top_k[" + strconv.Itoa(f.k) + "]" }

func (f topKFunc) capacity() int { return max(10*f.k, 100) }

func (f topKFunc) Type(in arrow.DataType) (arrow.DataType, error) {
	if f.k < 1 {
		return nil, fmt.Errorf("k = %d, want at least 1", f.k)
	}
	if p := physOf(in); !p.isString() && !p.isInt() {
		return nil, fmt.Errorf("%s, want a string or integer", in)
	}
	return arrow.BinaryTypes.String, nil
}

func (f topKFunc) New() AggState {
	sk, err := spacesaving.New(f.capacity())
	if err != nil {
		panic(err) // capacity >= 100
	}
	return &topKState{k: f.k, sk: sk}
}

type topKState struct {
	k    int
	sk   *spacesaving.Sketch
	ints bool // the column holds integers: keys are their decimal forms
	buf  []byte
}

func (s *topKState) Add(arr arrow.Array, rows []int32) {
	switch a := arr.(type) {
	case *array.String:
		for _, r := range rows {
			s.sk.Add(a.Value(int(r)), 1)
		}
	case *array.LargeString:
		for _, r := range rows {
			s.sk.Add(a.Value(int(r)), 1)
		}
	default:
		s.ints = true
		p := physOf(arr.DataType())
		byPhys(p, topKInts[int8], topKInts[int16], topKInts[int32], topKInts[int64],
			topKInts[uint8], topKInts[uint16], topKInts[uint32], topKUints, nil, nil)(s, arr, rows)
	}
}

func topKInts[T intValue](s *topKState, arr arrow.Array, rows []int32) {
	vals := values[T](arr)
	for _, r := range rows {
		// The sketch copies the keys it keeps: the buffer is reused.
		s.buf = strconv.AppendInt(s.buf[:0], int64(vals[r]), 10)
		s.sk.Add(unsafe.String(unsafe.SliceData(s.buf), len(s.buf)), 1)
	}
}

func topKUints(s *topKState, arr arrow.Array, rows []int32) {
	vals := values[uint64](arr)
	for _, r := range rows {
		s.buf = strconv.AppendUint(s.buf[:0], vals[r], 10)
		s.sk.Add(unsafe.String(unsafe.SliceData(s.buf), len(s.buf)), 1)
	}
}

func (s *topKState) Merge(other AggState) {
	o := other.(*topKState)
	s.ints = s.ints || o.ints
	s.sk.Merge(o.sk)
}

func (s *topKState) Result(b array.Builder) error {
	s.buf = append(s.buf[:0], '[')
	for i, it := range s.sk.Top(s.k) {
		if i > 0 {
			s.buf = append(s.buf, ',')
		}
		s.buf = append(s.buf, `{"value":`...)
		if s.ints {
			s.buf = append(s.buf, it.Key...)
		} else {
			s.buf = appendJSONString(s.buf, it.Key)
		}
		s.buf = append(s.buf, `,"count":`...)
		s.buf = strconv.AppendInt(s.buf, it.Count, 10)
		s.buf = append(s.buf, `,"error":`...)
		s.buf = strconv.AppendInt(s.buf, it.Err, 10)
		s.buf = append(s.buf, '}')
	}
	s.buf = append(s.buf, ']')
	b.(*array.StringBuilder).BinaryBuilder.Append(s.buf)
	return nil
}

// MarshalBinary encodes a flag byte (1: integer keys) and the sketch.
func (s *topKState) MarshalBinary() ([]byte, error) {
	flag := byte(0)
	if s.ints {
		flag = 1
	}
	return s.sk.AppendBinary([]byte{flag})
}

func (s *topKState) UnmarshalBinary(data []byte) error {
	if len(data) == 0 || data[0] > 1 {
		return errors.New("top_k: bad flag")
	}
	if err := s.sk.UnmarshalBinary(data[1:]); err != nil {
		return err
	}
	s.ints = data[0] == 1
	return nil
}

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, r := range s { // invalid bytes decode as utf8.RuneError, U+FFFD
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[r>>4], hex[r&15])
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, '"')
}
