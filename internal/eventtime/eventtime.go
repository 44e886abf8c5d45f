// Package eventtime reads a timestamp column as event-time milliseconds, the
// unit every windowed operator computes in.
package eventtime

import (
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Millis returns the values of col, a timestamp column, in milliseconds since
// the epoch, rounded down; nulls give whatever their slots hold. A column in
// milliseconds is returned as it is; others are converted into *buf, which
// is grown as needed and kept for the next call.
func Millis(col *array.Timestamp, buf *[]int64) []int64 {
	raw := col.Values()
	ms := unsafe.Slice((*int64)(unsafe.Pointer(unsafe.SliceData(raw))), len(raw)) // arrow.Timestamp is an int64
	var div, mul int64 = 1, 1
	switch col.DataType().(*arrow.TimestampType).Unit {
	case arrow.Millisecond:
		return ms
	case arrow.Second:
		mul = 1000
	case arrow.Microsecond:
		div = 1000
	case arrow.Nanosecond:
		div = 1_000_000
	}
	if cap(*buf) < len(ms) {
		*buf = make([]int64, len(ms))
	}
	out := (*buf)[:len(ms)]
	for i, v := range ms {
		if mul != 1 {
			out[i] = v * mul
			continue
		}
		q := v / div
		if v%div < 0 {
			q--
		}
		out[i] = q
	}
	return out
}
