package expr_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/expr"
)

var schema = arrow.NewSchema([]arrow.Field{
	{Name: "ts", Type: arrow.FixedWidthTypes.Timestamp_ms, Nullable: true},
	{Name: "page", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "event_type", Type: arrow.BinaryTypes.String},
	{Name: "price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "qty", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "small", Type: arrow.PrimitiveTypes.Int8},
	{Name: "flag", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "u", Type: arrow.PrimitiveTypes.Uint32},
	{Name: "lpage", Type: arrow.BinaryTypes.LargeString},
	{Name: "f32", Type: arrow.PrimitiveTypes.Float32},
	{Name: "ts_us", Type: &arrow.TimestampType{Unit: arrow.Microsecond}},
}, nil)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// testRecord has five rows; row 2 has nulls in every nullable column.
func testRecord(t *testing.T, mem memory.Allocator) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	ms := t0.UnixMilli()
	b.Field(0).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{arrow.Timestamp(ms), arrow.Timestamp(ms + 1000), 0, arrow.Timestamp(ms + 3000), arrow.Timestamp(ms - 1)}, []bool{true, true, false, true, true})
	b.Field(1).(*array.StringBuilder).AppendValues([]string{"/home", "/cart", "", "", "/home"}, []bool{true, true, false, true, true})
	b.Field(2).(*array.StringBuilder).AppendValues([]string{"page_view", "purchase", "page_view", "click", "purchase"}, nil)
	b.Field(3).(*array.Float64Builder).AppendValues([]float64{0, 19.99, 0, 5, 100}, []bool{true, true, false, true, true})
	b.Field(4).(*array.Int64Builder).AppendValues([]int64{1, 2, 0, 3, -4}, []bool{true, true, false, true, true})
	b.Field(5).(*array.Int8Builder).AppendValues([]int8{-128, 0, 1, 127, 5}, nil)
	b.Field(6).(*array.BooleanBuilder).AppendValues([]bool{true, false, false, true, false}, []bool{true, true, false, true, true})
	b.Field(7).(*array.Uint32Builder).AppendValues([]uint32{0, 1, 4294967295, 7, 7}, nil)
	b.Field(8).(*array.LargeStringBuilder).AppendValues([]string{"a", "b", "c", "a", "b"}, nil)
	b.Field(9).(*array.Float32Builder).AppendValues([]float32{0.5, 1.5, 2.5, 3.5, 4.5}, nil)
	b.Field(10).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{arrow.Timestamp(t0.UnixMicro()), arrow.Timestamp(t0.UnixMicro() + 1), 0, 0, 0}, nil)
	return b.NewRecordBatch()
}

// rows lists the matching row numbers.
func rows(match []bool) []int {
	var r []int
	for i, m := range match {
		if m {
			r = append(r, i)
		}
	}
	return r
}

type foreign struct{}

func (foreign) String() string { return "odd rows" }
func (foreign) Bind(*arrow.Schema) (expr.Bound, error) {
	return foreignBound{}, nil
}

type foreignBound struct{}

func (foreignBound) Match(rec arrow.RecordBatch, dst []bool) []bool {
	dst = dst[:0]
	for i := range int(rec.NumRows()) {
		dst = append(dst, i%2 == 1)
	}
	return dst
}

type eventType string

func TestMatch(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := testRecord(t, mem)
	defer rec.Release()

	tests := []struct {
		p    expr.Predicate
		want []int
	}{
		{expr.Eq("event_type", "purchase"), []int{1, 4}},
		{expr.Eq("event_type", eventType("click")), []int{3}},
		{expr.Ne("page", ""), []int{0, 1, 4}},             // the null page does not match
		{expr.Eq("page", ""), []int{3}},                   // nor does it equal ""
		{expr.Not(expr.Eq("page", "/home")), []int{1, 3}}, // NOT of unknown is unknown
		{expr.Eq("lpage", "a"), []int{0, 3}},
		{expr.Gt("price", 10), []int{1, 4}},
		{expr.Gt("price", 19.99), []int{4}},
		{expr.Le("price", 5.0), []int{0, 3}},
		{expr.Eq("qty", 3), []int{3}},
		{expr.Lt("qty", int32(0)), []int{4}},
		{expr.Ge("qty", uint64(18446744073709551615)), nil},
		{expr.Lt("qty", uint64(18446744073709551615)), []int{0, 1, 3, 4}},
		{expr.Eq("small", -128), []int{0}},
		{expr.Gt("small", 1000), nil}, // above int8's range
		{expr.Lt("small", 1000), []int{0, 1, 2, 3, 4}},
		{expr.Gt("small", -1000), []int{0, 1, 2, 3, 4}},
		{expr.Ne("small", 1000), []int{0, 1, 2, 3, 4}},
		{expr.Eq("u", 4294967295), []int{2}},
		{expr.Gt("u", -1), []int{0, 1, 2, 3, 4}}, // below uint32's range
		{expr.Eq("u", -1), nil},
		{expr.Ge("f32", 2.5), []int{2, 3, 4}},
		{expr.Eq("flag", true), []int{0, 3}},
		{expr.Ne("flag", true), []int{1, 4}},
		{expr.Eq("flag", false), []int{1, 4}},
		{expr.Ge("ts", t0), []int{0, 1, 3}},
		{expr.Lt("ts", t0.UnixMilli()), []int{4}},
		{expr.Eq("ts", t0.Add(time.Second)), []int{1}},
		{expr.Eq("ts", int64(t0.UnixMilli()+3000)), []int{3}},
		{expr.Gt("ts_us", t0), []int{1}},
		{expr.Ge("ts_us", t0.UnixMilli()), []int{0, 1}},
		{expr.In("event_type", "click", "purchase"), []int{1, 3, 4}},
		{expr.In("event_type", "a", "b", "c", "d", "click", "page_view"), []int{0, 2, 3}},
		{expr.In("page", "a", "b", "c", "d", "/cart", ""), []int{1, 3}},
		{expr.In("qty", 1, 3, 1000), []int{0, 3}},
		{expr.In("event_type"), nil},
		{expr.IsNull("page"), []int{2}},
		{expr.NotNull("page"), []int{0, 1, 3, 4}},
		{expr.IsNull("event_type"), nil},
		{expr.And(expr.Eq("event_type", "purchase"), expr.Gt("price", 50)), []int{4}},
		{expr.And(), []int{0, 1, 2, 3, 4}},
		{expr.Or(), nil},
		{expr.Or(expr.Eq("page", "/cart"), expr.Eq("qty", 3)), []int{1, 3}},
		// Kleene logic: row 2 has a null page; FALSE AND unknown is FALSE,
		// so its negation is TRUE; TRUE OR unknown is TRUE.
		{expr.Not(expr.And(expr.Eq("event_type", "purchase"), expr.Eq("page", "x"))), []int{0, 1, 2, 3, 4}},
		{expr.Not(expr.And(expr.Eq("event_type", "page_view"), expr.Eq("page", "x"))), []int{0, 1, 3, 4}},
		{expr.Or(expr.Eq("event_type", "page_view"), expr.Eq("page", "x")), []int{0, 2}},
		{expr.Not(expr.Or(expr.Eq("event_type", "click"), expr.Eq("page", "x"))), []int{0, 1, 4}},
		{expr.And(foreign{}, expr.NotNull("price")), []int{1, 3}},
		{expr.Not(foreign{}), []int{0, 2, 4}},
	}
	for _, tc := range tests {
		t.Run(tc.p.String(), func(t *testing.T) {
			b, err := tc.p.Bind(schema)
			if err != nil {
				t.Fatalf("Bind: %v", err)
			}
			got := rows(b.Match(rec, nil))
			if !slices.Equal(got, tc.want) {
				t.Errorf("matched rows %v, want %v", got, tc.want)
			}
			// Reusing dst gives the same answer and allocates nothing.
			dst := make([]bool, 0, 16)
			allocs := testing.AllocsPerRun(20, func() { dst = b.Match(rec, dst) })
			if !slices.Equal(rows(dst), tc.want) {
				t.Errorf("with dst: matched rows %v, want %v", rows(dst), tc.want)
			}
			if allocs != 0 {
				t.Errorf("Match allocates %v times per batch", allocs)
			}
		})
	}
}

func TestBindErrors(t *testing.T) {
	tests := []struct {
		p    expr.Predicate
		want string
	}{
		{expr.Eq("pag", "x"), `expr: column "pag" not in schema (have: ts, page, event_type, price, qty, small, flag, u, lpage, f32, ...)`},
		{expr.Eq("page", 3), `expr: page = 3: int value does not fit utf8 column "page"`},
		{expr.Eq("qty", 1.5), `expr: qty = 1.5: float64 value does not fit int64 column "qty"`},
		{expr.Eq("qty", "1"), `string value does not fit int64 column "qty"`},
		{expr.Eq("price", "1"), `string value does not fit float64 column "price"`},
		{expr.Eq("flag", 1), `int value does not fit bool column "flag"`},
		{expr.Eq("page", true), `bool value does not fit utf8 column "page"`},
		{expr.Lt("page", "m"), `< needs a numeric or timestamp column, "page" is utf8`},
		{expr.Gt("flag", true), `> needs a numeric or timestamp column, "flag" is bool`},
		{expr.Eq("ts", "2024-01-01"), `column "ts": string value does not fit a timestamp column (use time.Time or int64 milliseconds)`},
		{expr.Eq("ts", t0.Add(time.Microsecond)), `sub-millisecond precision`},
		{expr.Eq("qty", time.Now()), `time.Time value does not fit int64 column "qty"`},
		{expr.Eq("page", nil), `page = NULL: nil value (use IsNull or NotNull)`},
		{expr.Eq("page", []byte("x")), `unsupported value type []uint8`},
		{expr.In("qty", 1, "two"), `expr: qty IN (1, "two"): string value does not fit int64 column "qty"`},
		{expr.IsNull("nope"), `column "nope" not in schema`},
		{expr.And(expr.Eq("page", "x"), nil), `expr: AND: operand 2 is a nil predicate`},
		{expr.Not(nil), `expr: NOT of a nil predicate`},
		{expr.Or(expr.Eq("page", "x"), expr.Not(expr.Eq("x", 1))), `column "x" not in schema`},
	}
	for _, tc := range tests {
		t.Run(tc.p.String(), func(t *testing.T) {
			_, err := tc.p.Bind(schema)
			if err == nil {
				t.Fatalf("Bind succeeded, want error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		p    expr.Predicate
		want string
	}{
		{expr.Eq("event_type", "purchase"), `event_type = "purchase"`},
		{expr.Ne("page", ""), `page != ""`},
		{expr.Gt("price", 100), `price > 100`},
		{expr.Gt("price", 100.0), `price > 100.0`},
		{expr.Le("price", 2.5), `price <= 2.5`},
		{expr.Ge("ts", t0), `ts >= TIMESTAMP "2024-05-01T12:00:00Z"`},
		{expr.Lt("ts", int64(5)), `ts < 5`},
		{expr.In("event_type", "a", "b"), `event_type IN ("a", "b")`},
		{expr.IsNull("user id"), "`user id` IS NULL"},
		{expr.NotNull("page"), `page IS NOT NULL`},
		{expr.And(expr.Eq("a", 1), expr.Or(expr.Eq("b", 2), expr.Eq("c", 3))), `a = 1 AND (b = 2 OR c = 3)`},
		{expr.Not(expr.Eq("a", true)), `NOT (a = true)`},
		{expr.And(), `TRUE`},
		{expr.Or(), `FALSE`},
		{expr.And(nil), `<nil>`},
	}
	for _, tc := range tests {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("String() = %s, want %s", got, tc.want)
		}
	}
}

func BenchmarkMatch(b *testing.B) {
	mem := memory.NewGoAllocator()
	sb := array.NewRecordBuilder(mem, schema)
	defer sb.Release()
	const n = 4096
	types := []string{"page_view", "click", "purchase", "add_to_cart"}
	for i := range n {
		sb.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(t0.UnixMilli() + int64(i)))
		sb.Field(1).(*array.StringBuilder).Append("/p/" + types[i%4])
		sb.Field(2).(*array.StringBuilder).Append(types[i%4])
		sb.Field(3).(*array.Float64Builder).Append(float64(i % 100))
		sb.Field(4).(*array.Int64Builder).Append(int64(i))
		sb.Field(5).(*array.Int8Builder).Append(int8(i))
		sb.Field(6).(*array.BooleanBuilder).Append(i%2 == 0)
		sb.Field(7).(*array.Uint32Builder).Append(uint32(i))
		sb.Field(8).(*array.LargeStringBuilder).Append("x")
		sb.Field(9).(*array.Float32Builder).Append(1)
		sb.Field(10).(*array.TimestampBuilder).Append(0)
	}
	rec := sb.NewRecordBatch()
	defer rec.Release()
	for _, p := range []expr.Predicate{
		expr.Eq("event_type", "purchase"),
		expr.Gt("price", 50),
		expr.And(expr.Eq("event_type", "purchase"), expr.Gt("price", 50)),
	} {
		b.Run(p.String(), func(b *testing.B) {
			bd, err := p.Bind(schema)
			if err != nil {
				b.Fatal(err)
			}
			var dst []bool
			b.ReportAllocs()
			for b.Loop() {
				dst = bd.Match(rec, dst)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BindShared binds each distinct predicate once and maps every input to it;
// an error names the predicate that failed.
func TestBindShared(t *testing.T) {
	buy, view := expr.Eq("event_type", "purchase"), expr.Eq("event_type", "page_view")
	bound, of, _, err := expr.BindShared([]expr.Predicate{buy, nil, view, expr.Eq("event_type", "purchase")}, schema)
	if err != nil || len(bound) != 2 || !slices.Equal(of, []int{0, -1, 1, 0}) {
		t.Fatalf("BindShared = %d bound, %v, %v; want 2, [0 -1 1 0]", len(bound), of, err)
	}
	if _, _, i, err := expr.BindShared([]expr.Predicate{buy, expr.Eq("nope", "x")}, schema); err == nil || i != 1 {
		t.Fatalf("a bad predicate: %d, %v; want index 1 and an error", i, err)
	}
}
