package eventtime

import (
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Every unit becomes milliseconds, rounded down also before 1970, and a
// slice reads its own rows.
func TestMillis(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	for _, c := range []struct {
		unit arrow.TimeUnit
		in   []arrow.Timestamp
		want []int64
	}{
		{arrow.Millisecond, []arrow.Timestamp{-1, 0, 1500}, []int64{-1, 0, 1500}},
		{arrow.Second, []arrow.Timestamp{-2, 0, 3}, []int64{-2000, 0, 3000}},
		{arrow.Microsecond, []arrow.Timestamp{-1, 999, 1_000_001}, []int64{-1, 0, 1000}},
		{arrow.Nanosecond, []arrow.Timestamp{-1, 1_999_999, 3_000_000}, []int64{-1, 1, 3}},
	} {
		b := array.NewTimestampBuilder(mem, &arrow.TimestampType{Unit: c.unit})
		b.AppendValues(append([]arrow.Timestamp{42}, c.in...), nil)
		full := b.NewTimestampArray()
		b.Release()
		sliced := array.NewSlice(full, 1, int64(full.Len())).(*array.Timestamp)
		var buf []int64
		if got := Millis(sliced, &buf); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.unit, got, c.want)
		}
		sliced.Release()
		full.Release()
	}
}
