package expr_test

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/expr"
)

// evalValue binds v to rec's schema, evaluates it and renders each row:
// "null", an integer in decimal, a float with strconv's 'g' format.
func evalValue(t *testing.T, v expr.Value, rec arrow.RecordBatch) (arrow.DataType, []string) {
	t.Helper()
	bv, err := v.BindValue(rec.Schema())
	if err != nil {
		t.Fatalf("%s: BindValue: %v", v, err)
	}
	n := int(rec.NumRows())
	null := make([]bool, n)
	out := make([]string, n)
	if bv.Type().ID() == arrow.FLOAT64 {
		fs := make([]float64, n)
		if err := bv.Eval(rec, nil, fs, null); err != nil {
			t.Fatalf("%s: Eval: %v", v, err)
		}
		for i, f := range fs {
			out[i] = strconv.FormatFloat(f, 'g', -1, 64)
		}
	} else {
		is := make([]int64, n)
		if err := bv.Eval(rec, is, nil, null); err != nil {
			t.Fatalf("%s: Eval: %v", v, err)
		}
		for i, x := range is {
			out[i] = strconv.FormatInt(x, 10)
		}
	}
	for i := range out {
		if null[i] {
			out[i] = "null"
		}
	}
	return bv.Type(), out
}

func split(s string) []string { return strings.Fields(s) }

// TestValueEval evaluates values over testRecord (five rows; row 2 null in
// every nullable column): price float64 {0 19.99 null 5 100}, qty int64
// {1 2 null 3 -4}, small int8 {-128 0 1 127 5}, u uint32 {0 1 4294967295 7
// 7}, f32 {0.5 1.5 2.5 3.5 4.5}, ts timestamp[ms] (t0, t0+1s, null, t0+3s,
// t0-1ms).
func TestValueEval(t *testing.T) {
	ms := t0.UnixMilli()
	i64, f64 := arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Float64
	col, I, F := expr.Col, expr.Int, expr.Float
	tests := []struct {
		v    expr.Value
		typ  arrow.DataType
		want string
	}{
		{col("qty"), i64, "1 2 null 3 -4"},
		{col("small"), i64, "-128 0 1 127 5"},
		{col("u"), i64, "0 1 4294967295 7 7"},
		{col("price"), f64, "0 19.99 null 5 100"},
		{col("f32"), f64, "0.5 1.5 2.5 3.5 4.5"},
		{I(7), i64, "7 7 7 7 7"},
		{F(0.5), f64, "0.5 0.5 0.5 0.5 0.5"},
		{expr.Add(col("qty"), I(10)), i64, "11 12 null 13 6"},
		{expr.Sub(col("qty"), col("small")), i64, "129 2 null -124 -9"},
		{expr.Mul(col("qty"), col("small")), i64, "-128 0 null 381 -20"},
		{expr.Div(col("small"), I(2)), i64, "-64 0 0 63 2"},            // truncated toward zero
		{expr.Div(col("small"), col("qty")), i64, "-128 0 null 42 -1"}, // 5 / -4 = -1
		{expr.Mod(col("small"), I(3)), i64, "-2 0 1 1 2"},              // sign of the dividend
		{expr.Mod(col("small"), col("qty")), i64, "0 0 null 1 1"},
		{expr.Mod(col("small"), I(-1)), i64, "0 0 0 0 0"},
		{expr.Div(col("small"), I(-1)), i64, "128 0 -1 -127 -5"},
		// An integer with a float is a float.
		{expr.Mul(col("price"), I(2)), f64, "0 39.98 null 10 200"},
		{expr.Add(col("qty"), F(0.5)), f64, "1.5 2.5 null 3.5 -3.5"},
		{expr.Mul(col("price"), col("qty")), f64, "0 39.98 null 15 -400"},
		{expr.Div(col("qty"), F(2)), f64, "0.5 1 null 1.5 -2"},
		{expr.Div(col("price"), col("f32")), f64, "0 13.326666666666666 null 1.4285714285714286 22.22222222222222"},
		{expr.Sub(F(1), col("f32")), f64, "0.5 -0.5 -1.5 -2.5 -3.5"},
		{expr.Mul(col("price"), F(0.908)), f64, "0 18.15092 null 4.54 90.8"},
		// Nested, with the same column twice.
		{expr.Add(expr.Mul(col("qty"), col("qty")), expr.Mod(col("small"), I(2))), i64, "1 4 null 10 17"},
		// Casts.
		{expr.ToFloat(col("qty")), f64, "1 2 null 3 -4"},
		{expr.ToInt(col("price")), i64, "0 19 null 5 100"},
		{expr.ToInt(expr.Mul(col("f32"), F(-1))), i64, "0 -1 -2 -3 -4"}, // toward zero
		{expr.ToInt(col("qty")), i64, "1 2 null 3 -4"},
		{expr.Mod(expr.ToInt(col("price")), I(7)), i64, "0 5 null 5 2"},
		// A timestamp is the count of its unit: milliseconds here.
		{expr.Sub(col("ts"), I(ms)), i64, "0 1000 null 3000 -1"},
		{expr.Div(expr.Sub(col("ts"), I(ms)), I(1000)), i64, "0 1 null 3 0"},
		{expr.Mod(col("ts"), I(1000)), i64, "0 0 null 0 999"},
	}
	for _, tc := range tests {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		rec := testRecord(t, mem)
		typ, got := evalValue(t, tc.v, rec)
		if !arrow.TypeEqual(typ, tc.typ) {
			t.Errorf("%s: type %s, want %s", tc.v, typ, tc.typ)
		}
		if want := split(tc.want); !slices.Equal(got, want) {
			t.Errorf("%s = %v, want %v", tc.v, got, want)
		}
		rec.Release()
		mem.AssertSize(t, 0)
	}
}

// oneColumn is a record of one nullable column of typ; nil values are nulls.
func oneColumn(t *testing.T, mem memory.Allocator, name string, typ arrow.DataType, vals ...any) arrow.RecordBatch {
	t.Helper()
	sch := arrow.NewSchema([]arrow.Field{{Name: name, Type: typ, Nullable: true}}, nil)
	b := array.NewRecordBuilder(mem, sch)
	defer b.Release()
	for _, v := range vals {
		switch fb := b.Field(0).(type) {
		case *array.Int64Builder:
			if v == nil {
				fb.AppendNull()
			} else {
				fb.Append(v.(int64))
			}
		case *array.TimestampBuilder:
			fb.Append(arrow.Timestamp(v.(int64)))
		case *array.Uint64Builder:
			fb.Append(v.(uint64))
		case *array.Float64Builder:
			if v == nil {
				fb.AppendNull()
			} else {
				fb.Append(v.(float64))
			}
		default:
			t.Fatalf("oneColumn: %s", typ)
		}
	}
	return b.NewRecordBatch()
}

// TestValueDivisionByZeroIsNull: an integer or float division, or a modulo,
// by zero is null in that row only (a zero literal: every row), never an
// error, a panic or ±Inf. A null divisor whose underlying slot holds 0 is
// null too.
func TestValueDivisionByZeroIsNull(t *testing.T) {
	col, I, F := expr.Col, expr.Int, expr.Float
	tests := []struct {
		v    expr.Value
		want string
	}{
		{expr.Div(I(10), col("d")), "5 null -10 null"},
		{expr.Mod(I(10), col("d")), "0 null 0 null"},
		{expr.Div(col("d"), I(0)), "null null null null"},
		{expr.Mod(col("d"), I(0)), "null null null null"},
		{expr.Div(F(1), col("d")), "0.5 null -1 null"},
		{expr.Div(col("d"), F(0)), "null null null null"},
		{expr.Div(col("d"), F(math.Copysign(0, -1))), "null null null null"},
		{expr.Div(col("d"), expr.Sub(col("d"), col("d"))), "null null null null"},
		{expr.ToInt(expr.Div(F(1), col("d"))), "0 null -1 null"},
	}
	for _, tc := range tests {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		rec := oneColumn(t, mem, "d", arrow.PrimitiveTypes.Int64, int64(2), int64(0), int64(-1), nil)
		if _, got := evalValue(t, tc.v, rec); !slices.Equal(got, split(tc.want)) {
			t.Errorf("%s = %v, want %s", tc.v, got, tc.want)
		}
		rec.Release()
		mem.AssertSize(t, 0)
	}
}

// TestValueOverflow: integer arithmetic wraps as Go's does; a uint64 above
// MaxInt64 wraps to a negative int64; floats overflow to ±Inf; a cast of a
// float outside int64's range, or of NaN, is null.
func TestValueOverflow(t *testing.T) {
	col, I, F := expr.Col, expr.Int, expr.Float
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ints := oneColumn(t, mem, "x", arrow.PrimitiveTypes.Int64, int64(math.MaxInt64), int64(math.MinInt64))
	defer ints.Release()
	uints := oneColumn(t, mem, "x", arrow.PrimitiveTypes.Uint64, uint64(math.MaxUint64), uint64(1)<<63)
	defer uints.Release()
	floats := oneColumn(t, mem, "x", arrow.PrimitiveTypes.Float64, math.MaxFloat64, math.NaN())
	defer floats.Release()
	tests := []struct {
		rec  arrow.RecordBatch
		v    expr.Value
		want string
	}{
		{ints, expr.Add(col("x"), I(1)), "-9223372036854775808 -9223372036854775807"},
		{ints, expr.Sub(col("x"), I(1)), "9223372036854775806 9223372036854775807"},
		{ints, expr.Mul(col("x"), I(2)), "-2 0"},
		{ints, expr.Div(col("x"), I(-1)), "-9223372036854775807 -9223372036854775808"},
		{ints, expr.Div(col("x"), expr.Sub(I(0), I(1))), "-9223372036854775807 -9223372036854775808"},
		{ints, expr.Mod(col("x"), expr.Sub(I(0), I(1))), "0 0"},
		{uints, col("x"), "-1 -9223372036854775808"},
		{floats, expr.Mul(col("x"), F(10)), "+Inf NaN"},
		{floats, expr.ToInt(col("x")), "null null"},
		{floats, expr.ToInt(expr.Div(col("x"), F(1e300))), "179769313 null"},
		{ints, expr.ToInt(expr.ToFloat(col("x"))), "null -9223372036854775808"}, // 2^63 is out of range
	}
	for _, tc := range tests {
		if _, got := evalValue(t, tc.v, tc.rec); !slices.Equal(got, split(tc.want)) {
			t.Errorf("%s = %v, want %s", tc.v, got, tc.want)
		}
	}
}

// TestValueSlicedRecord evaluates over a slice of a record: values and nulls
// come from the slice's rows.
func TestValueSlicedRecord(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := testRecord(t, mem)
	defer rec.Release()
	sl := rec.NewSlice(1, 4)
	defer sl.Release()
	_, got := evalValue(t, expr.Add(expr.Col("qty"), expr.Col("price")), sl)
	if want := split("21.99 null 8"); !slices.Equal(got, want) {
		t.Errorf("qty + price on rows 1..3 = %v, want %v", got, want)
	}
}

// TestValueBindErrors: a value that cannot be computed over the schema fails
// at BindValue, with the expression and the column in the message.
func TestValueBindErrors(t *testing.T) {
	col, I, F := expr.Col, expr.Int, expr.Float
	tests := []struct {
		v    expr.Value
		want string
	}{
		{expr.Add(col("page"), I(1)), `column "page" is utf8, not a number`},
		{expr.Mul(F(2), col("lpage")), `column "lpage" is large_utf8, not a number`},
		{col("flag"), `column "flag" is bool, not a number`},
		{expr.Sub(col("nope"), I(1)), `nope`},
		{expr.Mod(col("price"), I(2)), `price % 2: % wants integer operands (use ToInt)`},
		{expr.Mod(col("qty"), F(2)), `qty % 2.0: % wants integer operands`},
		{expr.Add(col("qty"), nil), `nil value`},
		{expr.ToInt(nil), `nil value`},
		{F(math.NaN()), `NaN literal`},
	}
	for _, tc := range tests {
		_, err := tc.v.BindValue(schema)
		if err == nil {
			t.Errorf("%s: BindValue succeeded, want an error with %q", tc.v, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: BindValue: %v, want it to contain %q", tc.v, err, tc.want)
		}
	}
}

// TestValueEvalErrors: Eval refuses slices of the wrong length and a batch
// of another schema, with an error.
func TestValueEvalErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := testRecord(t, mem)
	defer rec.Release()
	iv, err := expr.Add(expr.Col("qty"), expr.Int(1)).BindValue(schema)
	if err != nil {
		t.Fatal(err)
	}
	fv, err := expr.Add(expr.Col("price"), expr.Int(1)).BindValue(schema)
	if err != nil {
		t.Fatal(err)
	}
	other := oneColumn(t, mem, "qty", arrow.PrimitiveTypes.Float64, 1.0, 2.0, 3.0, 4.0, 5.0)
	defer other.Release()
	five := func() []bool { return make([]bool, 5) }
	tv, err := expr.Col("ts").BindValue(schema) // timestamp[ms]
	if err != nil {
		t.Fatal(err)
	}
	micros := oneColumn(t, mem, "ts", arrow.FixedWidthTypes.Timestamp_us, int64(1), int64(2), int64(3), int64(4), int64(5))
	defer micros.Release()
	for name, err := range map[string]error{
		"short null":   iv.Eval(rec, make([]int64, 5), nil, make([]bool, 4)),
		"short ints":   iv.Eval(rec, make([]int64, 4), nil, five()),
		"short floats": fv.Eval(rec, nil, make([]float64, 6), five()),
		"ints as nil":  iv.Eval(rec, nil, make([]float64, 5), five()),
		"other schema": iv.Eval(other, make([]int64, 5), nil, five()),
		"other unit":   tv.Eval(micros, make([]int64, 5), nil, five()),
	} {
		if err == nil {
			t.Errorf("%s: Eval succeeded", name)
		}
	}
}

// TestValueString renders expressions as they read, parenthesising nested
// arithmetic.
func TestValueString(t *testing.T) {
	col, I, F := expr.Col, expr.Int, expr.Float
	tests := []struct {
		v    fmtStringer
		want string
	}{
		{expr.Mul(col("price"), F(0.908)), `price * 0.908`},
		{expr.Add(expr.Mul(col("a"), I(2)), I(-1)), `(a * 2) + -1`},
		{expr.Mod(col("auction"), I(123)), `auction % 123`},
		{expr.ToInt(expr.Div(col("ts"), I(1000))), `CAST(ts / 1000 AS BIGINT)`},
		{expr.ToFloat(col("bid count")), "CAST(`bid count` AS DOUBLE)"},
		{expr.GtValue(expr.Mul(col("price"), I(2)), I(100)), `price * 2 > 100`},
		{expr.EqValue(expr.Mod(col("auction"), I(123)), I(0)), `auction % 123 = 0`},
	}
	for _, tc := range tests {
		if got := tc.v.String(); got != tc.want {
			t.Errorf("String() = %s, want %s", got, tc.want)
		}
	}
}

type fmtStringer interface{ String() string }

// TestValueComparisons filters on values: integers compare as integers,
// mixed as floats; a null on either side does not match.
func TestValueComparisons(t *testing.T) {
	col, I, F := expr.Col, expr.Int, expr.Float
	tests := []struct {
		p    expr.Predicate
		want []int
	}{
		{expr.GtValue(expr.Mul(col("price"), I(2)), I(100)), []int{4}},
		{expr.GeValue(expr.Mul(col("price"), I(2)), F(10)), []int{1, 3, 4}},
		{expr.LtValue(col("price"), col("qty")), []int{0}},
		{expr.LeValue(col("qty"), col("small")), []int{3, 4}},
		{expr.EqValue(expr.Mod(col("small"), I(2)), I(0)), []int{0, 1}},
		{expr.NeValue(expr.Mod(col("small"), I(2)), I(0)), []int{2, 3, 4}},
		{expr.NeValue(col("qty"), I(2)), []int{0, 3, 4}}, // row 2 null: no match
		{expr.Not(expr.EqValue(col("qty"), I(2))), []int{0, 3, 4}},
		{expr.EqValue(expr.Div(col("qty"), expr.Sub(col("qty"), col("qty"))), I(0)), nil}, // division by zero: null
		{expr.GtValue(col("u"), I(math.MaxInt32)), []int{2}},
		{expr.And(expr.Eq("event_type", "purchase"), expr.GtValue(expr.Mul(col("price"), F(0.908)), I(50))), []int{4}},
	}
	for _, tc := range tests {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		rec := testRecord(t, mem)
		b, err := tc.p.Bind(schema)
		if err != nil {
			t.Errorf("%s: Bind: %v", tc.p, err)
		} else if got := rows(b.Match(rec, nil)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: rows %v, want %v", tc.p, got, tc.want)
		}
		rec.Release()
		mem.AssertSize(t, 0)
	}
	if _, err := expr.GtValue(expr.Add(col("page"), I(1)), I(0)).Bind(schema); err == nil || !strings.Contains(err.Error(), `"page" is utf8, not a number`) {
		t.Errorf("GtValue on a string column: Bind error %v", err)
	}
}

// TestValueComparisonOfColumnAndLiteral: GtValue(Col(c), Int(k)) renders
// as Gt(c, k) does and matches the same rows, on a timestamp column of
// another unit than milliseconds and on uint64s above MaxInt64 too; a float
// literal on an integer column, which Gt refuses, compares as floats.
func TestValueComparisonOfColumnAndLiteral(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := testRecord(t, mem)
	defer rec.Release()
	uints := oneColumn(t, mem, "u64", arrow.PrimitiveTypes.Uint64, uint64(math.MaxUint64), uint64(1)<<63, uint64(5))
	defer uints.Release()
	ms := t0.UnixMilli()
	tests := []struct {
		rec  arrow.RecordBatch
		v, p expr.Predicate
		want []int
	}{
		{rec, expr.GtValue(expr.Col("ts_us"), expr.Int(ms)), expr.Gt("ts_us", ms), []int{1}},
		{rec, expr.EqValue(expr.Col("ts_us"), expr.Int(ms)), expr.Eq("ts_us", ms), []int{0}},
		{rec, expr.GeValue(expr.Col("ts"), expr.Int(ms)), expr.Ge("ts", ms), []int{0, 1, 3}},
		{rec, expr.LtValue(expr.Col("price"), expr.Int(6)), expr.Lt("price", 6), []int{0, 3}},
		{rec, expr.NeValue(expr.Col("price"), expr.Float(5)), expr.Ne("price", 5.0), []int{0, 1, 4}},
		{uints, expr.GtValue(expr.Col("u64"), expr.Int(0)), expr.Gt("u64", 0), []int{0, 1, 2}},
		{uints, expr.LeValue(expr.Col("u64"), expr.Int(5)), expr.Le("u64", 5), []int{2}},
	}
	for _, tc := range tests {
		if tc.v.String() != tc.p.String() {
			t.Errorf("%s renders unlike %s", tc.v, tc.p)
		}
		for _, p := range []expr.Predicate{tc.v, tc.p} {
			b, err := p.Bind(tc.rec.Schema())
			if err != nil {
				t.Errorf("%s: Bind: %v", p, err)
			} else if got := rows(b.Match(tc.rec, nil)); !slices.Equal(got, tc.want) {
				t.Errorf("%s (%T): rows %v, want %v", p, p, got, tc.want)
			}
		}
	}
	// Gt("qty", 2.5) does not bind; the value comparison does.
	b, err := expr.GtValue(expr.Col("qty"), expr.Float(2.5)).Bind(schema)
	if err != nil {
		t.Fatal(err)
	}
	if got := rows(b.Match(rec, nil)); !slices.Equal(got, []int{3}) {
		t.Errorf("qty > 2.5: rows %v, want [3]", got)
	}
}
