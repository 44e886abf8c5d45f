package operators

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/expr"
	"github.com/shardflow/shardflow/pipeline"
)

// derived runs the stages on eventBatch and returns the last column of each
// row of the one batch that comes out ("null" for nulls), and that batch's
// schema.
func derived(t *testing.T, stages ...pipeline.Stage) (*arrow.Schema, []string) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	in := eventSchema
	var ops []pipeline.Operator
	for _, s := range stages {
		var op pipeline.Operator
		in, op = newOp(t, mem, s, in)
		ops = append(ops, op)
	}
	bs := []*pipeline.Batch{eventBatch(mem)}
	for _, op := range ops {
		var next []*pipeline.Batch
		for _, b := range bs {
			main, dead := collect(t, op, b)
			if len(dead) > 0 {
				t.Errorf("%d dead-letter batches", len(dead))
				releaseAll(dead)
			}
			next = append(next, main...)
		}
		bs = next
	}
	defer releaseAll(bs)
	if len(bs) != 1 {
		t.Fatalf("%d batches out, want 1", len(bs))
	}
	rec := bs[0].Rec
	if !rec.Schema().Equal(in) {
		t.Errorf("batch schema %s, want the bound %s", rec.Schema(), in)
	}
	last := rec.Column(int(rec.NumCols()) - 1)
	out := make([]string, rec.NumRows())
	for i := range out {
		out[i] = last.ValueStr(i)
		if last.IsNull(i) {
			out[i] = "null"
		}
	}
	return rec.Schema(), out
}

// TestDerive appends computed columns to eventBatch: ts timestamp[ms] {1000
// .. 5000}, price float64 {0 9.5 null 1 20}, qty int32 {1 2 null 4 5}, tiny
// uint8 {0 1 2 3 4}, short int16 {-1 .. -5}.
func TestDerive(t *testing.T) {
	col, I, F := expr.Col, expr.Int, expr.Float
	tests := []struct {
		name string
		v    expr.Value
		typ  arrow.DataType
		want string
	}{
		{"price_eur", expr.Mul(col("price"), F(0.908)), arrow.PrimitiveTypes.Float64, "0 8.626 null 0.908 18.16"},
		{"qty2", expr.Mul(col("qty"), I(2)), arrow.PrimitiveTypes.Int64, "2 4 null 8 10"},
		{"total", expr.Mul(col("price"), col("qty")), arrow.PrimitiveTypes.Float64, "0 19 null 4 100"},
		{"sec", expr.Div(col("ts"), I(1000)), arrow.PrimitiveTypes.Int64, "1 2 3 4 5"},
		{"ratio", expr.Div(col("short"), col("tiny")), arrow.PrimitiveTypes.Int64, "null -2 -1 -1 -1"}, // 0 divisor: null
		{"fratio", expr.Div(col("price"), col("tiny")), arrow.PrimitiveTypes.Float64, "null 9.5 null 0.3333333333333333 5"},
		{"rem", expr.Mod(col("qty"), col("tiny")), arrow.PrimitiveTypes.Int64, "null 0 null 1 1"},
		{"one", I(1), arrow.PrimitiveTypes.Int64, "1 1 1 1 1"},
	}
	for _, tc := range tests {
		sch, got := derived(t, Derive(tc.name, tc.v))
		if want := strings.Fields(tc.want); !slices.Equal(got, want) {
			t.Errorf("%s = %s: %v, want %v", tc.name, tc.v, got, want)
		}
		wantFields := append(slices.Clone(eventSchema.Fields()), arrow.Field{Name: tc.name, Type: tc.typ, Nullable: true})
		if !slices.EqualFunc(sch.Fields(), wantFields, func(a, b arrow.Field) bool { return a.Equal(b) }) {
			t.Errorf("%s: schema %s, want fields %v", tc.name, sch, wantFields)
		}
	}
}

// TestDeriveWithFilter: Derive composes with Filter both ways: a filter on
// a value before it, a filter on the derived column after it, a derived
// column of a derived column.
func TestDeriveWithFilter(t *testing.T) {
	col, I, F := expr.Col, expr.Int, expr.Float
	tests := []struct {
		stages []pipeline.Stage
		want   string
	}{
		{[]pipeline.Stage{Filter(expr.GtValue(expr.Mul(col("price"), I(2)), I(10))), Derive("p2", expr.Mul(col("price"), I(2)))}, "19 40"},
		{[]pipeline.Stage{Derive("p2", expr.Mul(col("price"), I(2))), Filter(expr.Gt("p2", 10))}, "19 40"},
		{[]pipeline.Stage{Derive("p2", expr.Mul(col("price"), I(2))), Filter(expr.LeValue(col("p2"), F(2)))}, "0 2"},
		{[]pipeline.Stage{Derive("q", expr.Add(col("qty"), I(1))), Derive("qq", expr.Mul(col("q"), col("q"))), Filter(expr.Eq("event_type", "purchase"))}, "9 36"},
		{[]pipeline.Stage{Filter(expr.IsNull("price")), Derive("p", col("price"))}, "null"},
	}
	for _, tc := range tests {
		var names []string
		for _, s := range tc.stages {
			names = append(names, s.Name())
		}
		if _, got := derived(t, tc.stages...); !slices.Equal(got, strings.Fields(tc.want)) {
			t.Errorf("%s: %v, want %s", strings.Join(names, " | "), got, tc.want)
		}
	}
}

// TestDeriveKeepsBatch: the other columns pass on as they are (the same
// arrays), with the batch's shard, positions and times; a sliced input
// derives its own rows.
func TestDeriveKeepsBatch(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	_, op := newOp(t, mem, Derive("q2", expr.Mul(expr.Col("qty"), expr.Int(2))), eventSchema)
	in := eventBatch(mem)
	in.Before, in.Arrival = 900, 7000
	sl := in.WithRecord(in.Rec.NewSlice(1, 4))
	qty := sl.Rec.Column(4)
	main, _ := collect(t, op, sl)
	defer releaseAll(main)
	if len(main) != 1 {
		t.Fatalf("%d batches", len(main))
	}
	out := main[0]
	if out.Shard != "shard-1" || out.First != pipeline.OffsetPosition(10) || out.Last != pipeline.OffsetPosition(14) ||
		out.MinTime != 1000 || out.MaxTime != 5000 || out.Before != 900 || out.Arrival != 7000 {
		t.Errorf("batch metadata %+v, want the input's", out)
	}
	if out.Rec.Column(4) != qty {
		t.Errorf("column qty was copied, want the input's array")
	}
	want := []string{
		row1[len("ts=1970-01-01T00:00:00.000Z "):] + " q2=4",
		row2[len("ts=1970-01-01T00:00:00.000Z "):] + " q2=null",
		row3[len("ts=1970-01-01T00:00:00.000Z "):] + " q2=8",
	}
	got := rowStrings(out.Rec)
	for i := range got {
		got[i] = got[i][len("ts=1970-01-01T00:00:00.000Z "):]
	}
	if !slices.Equal(got, want) {
		t.Errorf("rows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if in.Rec.Release(); op.(pipeline.CounterReporter).Counters()["rows"] != 3 {
		t.Errorf("counters %v, want 3 rows", op.(pipeline.CounterReporter).Counters())
	}
}

// TestDeriveEmptyAndNilBatches: a batch of no rows comes out with an empty
// column; a batch without a record is dropped.
func TestDeriveEmptyAndNilBatches(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	_, op := newOp(t, mem, Derive("p", expr.Mul(expr.Col("price"), expr.Float(0.5))), eventSchema)
	in := eventBatch(mem)
	empty := in.WithRecord(in.Rec.NewSlice(2, 2))
	in.Release()
	main, _ := collect(t, op, empty)
	if len(main) != 1 || main[0].Rec.NumRows() != 0 || main[0].Rec.NumCols() != int64(eventSchema.NumFields()+1) {
		t.Errorf("empty batch: %d batches out, want one of 0 rows and %d columns", len(main), eventSchema.NumFields()+1)
	}
	releaseAll(main)
	if main, _ := collect(t, op, &pipeline.Batch{Shard: "s"}); len(main) != 0 {
		t.Errorf("nil record: %d batches out", len(main))
		releaseAll(main)
	}
}

// TestDeriveBindErrors: a value that cannot be computed, or a name that
// cannot be added, fails at Bind with the column's name in the message.
func TestDeriveBindErrors(t *testing.T) {
	tests := []struct {
		stage pipeline.Stage
		in    *arrow.Schema
		want  string
	}{
		{Derive("x", expr.Add(expr.Col("page"), expr.Int(1))), eventSchema, `derive x: expr: column "page" is utf8, not a number`},
		{Derive("x", expr.Mul(expr.Col("ok"), expr.Int(1))), eventSchema, `column "ok" is bool, not a number`},
		{Derive("x", expr.Col("missing")), eventSchema, `missing`},
		{Derive("x", expr.Mod(expr.Col("price"), expr.Int(2))), eventSchema, `% wants integer operands`},
		{Derive("price", expr.Int(1)), eventSchema, `column "price" is in the input already`},
		{Derive("", expr.Int(1)), eventSchema, `empty column name`},
		{Derive("x", nil), eventSchema, `nil value`},
		{Derive("x", expr.Int(1)), nil, `nil input schema`},
	}
	for _, tc := range tests {
		_, _, err := tc.stage.Bind(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Bind error %v, want one with %q", tc.stage.Name(), err, tc.want)
		}
	}
}

// TestDeriveOtherSchema: a batch that is not of the bound schema fails
// Process with an error (never a panic) and is released.
func TestDeriveOtherSchema(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	in := arrow.NewSchema([]arrow.Field{{Name: "price", Type: arrow.PrimitiveTypes.Float64}}, nil)
	_, op := newOp(t, mem, Derive("p2", expr.Mul(expr.Col("price"), expr.Int(2))), in)
	for name, sch := range map[string]*arrow.Schema{
		"other type":   arrow.NewSchema([]arrow.Field{{Name: "price", Type: arrow.PrimitiveTypes.Int64}}, nil),
		"more columns": arrow.NewSchema([]arrow.Field{{Name: "price", Type: arrow.PrimitiveTypes.Float64}, {Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil),
		"other column": arrow.NewSchema([]arrow.Field{{Name: "price", Type: arrow.PrimitiveTypes.Float64}, {Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil),
	} {
		b := array.NewRecordBuilder(mem, sch)
		for i := range sch.NumFields() {
			switch fb := b.Field(i).(type) {
			case *array.Float64Builder:
				fb.Append(1)
			case *array.Int64Builder:
				fb.Append(1)
			}
		}
		rec := b.NewRecordBatch()
		b.Release()
		if name == "other column" { // same width, the derived column's slot taken
			rec = swapLast(rec)
		}
		err := op.Process(context.Background(), &pipeline.Batch{Rec: rec, Shard: "s"}, func(out *pipeline.Batch) {
			t.Errorf("%s: batch emitted", name)
			out.Release()
		})
		if err == nil || !strings.Contains(err.Error(), "derive p2: shard s") {
			t.Errorf("%s: Process error %v", name, err)
		}
	}
}

// swapLast returns rec with its columns in reverse order, releasing rec.
func swapLast(rec arrow.RecordBatch) arrow.RecordBatch {
	cols := slices.Clone(rec.Columns())
	slices.Reverse(cols)
	fields := slices.Clone(rec.Schema().Fields())
	slices.Reverse(fields)
	out := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, rec.NumRows())
	rec.Release()
	return out
}

// TestDeriveInstancesRunInParallel: the instances of one bound Derive stage
// own their evaluators, so shards run them at once (under -race) and each
// computes its own batches.
func TestDeriveInstancesRunInParallel(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	_, newOp, err := Derive("p2", expr.Add(expr.Mul(expr.Col("price"), expr.Int(2)), expr.Col("qty"))).Bind(eventSchema)
	if err != nil {
		t.Fatal(err)
	}
	results := make([][]string, 4)
	errs := make(chan error, len(results))
	for i := range results {
		op, err := newOp(pipeline.OperatorEnv{Mem: mem, Source: "test", Shard: "shard"})
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for range 50 {
				err := op.Process(context.Background(), eventBatch(mem), func(b *pipeline.Batch) {
					defer b.Release()
					col := b.Rec.Column(int(b.Rec.NumCols()) - 1)
					results[i] = results[i][:0]
					for r := range col.Len() {
						results[i] = append(results[i], col.ValueStr(r))
					}
				})
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range results {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i, got := range results {
		if want := []string{"1", "21", "(null)", "6", "45"}; !slices.Equal(got, want) {
			t.Errorf("instance %d: %v, want %v", i, got, want)
		}
	}
}
