package expr_test

import (
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/expr"
)

// TestTimestampLiteralOutsideTheUnitsRange compares timestamp columns of
// every unit with times their unit cannot represent (time.Time reaches years
// far beyond int64 nanoseconds' 1677..2262): every value of the column lies
// on one side of such a time, so the result is the same for every row,
// never the result of comparing with an overflowed number.
func TestTimestampLiteralOutsideTheUnitsRange(t *testing.T) {
	far := time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)   // beyond ns
	early := time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC) // before ns
	huge := time.Date(300_000_000, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		unit arrow.TimeUnit
		p    expr.Predicate
		want []int
	}{
		{arrow.Nanosecond, expr.Lt("ts", far), []int{0, 1}},
		{arrow.Nanosecond, expr.Le("ts", far), []int{0, 1}},
		{arrow.Nanosecond, expr.Gt("ts", far), nil},
		{arrow.Nanosecond, expr.Eq("ts", far), nil},
		{arrow.Nanosecond, expr.Ne("ts", far), []int{0, 1}},
		{arrow.Nanosecond, expr.Gt("ts", early), []int{0, 1}},
		{arrow.Nanosecond, expr.Ge("ts", early), []int{0, 1}},
		{arrow.Nanosecond, expr.Lt("ts", early), nil},
		{arrow.Nanosecond, expr.In("ts", early, far), nil},
		{arrow.Microsecond, expr.Lt("ts", huge), []int{0, 1}},
		{arrow.Millisecond, expr.Lt("ts", huge), []int{0, 1}},
		{arrow.Second, expr.Lt("ts", huge), []int{0, 1}},
		{arrow.Microsecond, expr.Lt("ts", far), []int{0, 1}},
	}
	for _, tc := range tests {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		sch := arrow.NewSchema([]arrow.Field{{Name: "ts", Type: &arrow.TimestampType{Unit: tc.unit}}}, nil)
		b := array.NewRecordBuilder(mem, sch)
		// 2024 and 1970, in the column's unit.
		b.Field(0).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{arrow.Timestamp(t0.Unix() * int64(tc.unit.Multiplier()/time.Second)), 0}, nil)
		rec := b.NewRecordBatch()
		b.Release()
		bound, err := tc.p.Bind(sch)
		if err != nil {
			t.Errorf("%s on %s: %v", tc.p, tc.unit, err)
		} else if got := rows(bound.Match(rec, nil)); !slices.Equal(got, tc.want) {
			t.Errorf("%s on timestamp[%s]: rows %v, want %v", tc.p, tc.unit, got, tc.want)
		}
		rec.Release()
		mem.AssertSize(t, 0)
	}
}
