package operators

import (
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/expr"
	"github.com/shardflow/shardflow/pipeline"
)

var eventSchema = arrow.NewSchema([]arrow.Field{
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond}},
	{Name: "page", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "event_type", Type: arrow.BinaryTypes.String},
	{Name: "price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "qty", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "raw", Type: arrow.BinaryTypes.Binary},
	{Name: "tiny", Type: arrow.PrimitiveTypes.Uint8},
	{Name: "short", Type: arrow.PrimitiveTypes.Int16},
}, nil)

// eventBatch has five rows; row 2 has nulls.
func eventBatch(mem memory.Allocator) *pipeline.Batch {
	b := array.NewRecordBuilder(mem, eventSchema)
	defer b.Release()
	b.Field(0).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{1000, 2000, 3000, 4000, 5000}, nil)
	b.Field(1).(*array.StringBuilder).AppendValues([]string{"/a", "/b", "", "", "/a"}, []bool{true, true, false, true, true})
	b.Field(2).(*array.StringBuilder).AppendValues([]string{"view", "purchase", "view", "click", "purchase"}, nil)
	b.Field(3).(*array.Float64Builder).AppendValues([]float64{0, 9.5, 0, 1, 20}, []bool{true, true, false, true, true})
	b.Field(4).(*array.Int32Builder).AppendValues([]int32{1, 2, 0, 4, 5}, []bool{true, true, false, true, true})
	b.Field(5).(*array.BooleanBuilder).AppendValues([]bool{true, false, false, true, true}, []bool{true, true, false, true, true})
	b.Field(6).(*array.BinaryBuilder).AppendValues([][]byte{[]byte("r0"), []byte("r1"), []byte("r2"), nil, []byte("r4")}, nil)
	b.Field(7).(*array.Uint8Builder).AppendValues([]uint8{0, 1, 2, 3, 4}, nil)
	b.Field(8).(*array.Int16Builder).AppendValues([]int16{-1, -2, -3, -4, -5}, nil)
	return &pipeline.Batch{Rec: b.NewRecordBatch(), Shard: "shard-1", First: pipeline.OffsetPosition(10), Last: pipeline.OffsetPosition(14), MinTime: 1000, MaxTime: 5000}
}

const (
	row0 = `ts=1970-01-01T00:00:01.000Z page=/a event_type=view price=0 qty=1 ok=true raw=cjA= tiny=0 short=-1`
	row1 = `ts=1970-01-01T00:00:02.000Z page=/b event_type=purchase price=9.5 qty=2 ok=false raw=cjE= tiny=1 short=-2`
	row2 = `ts=1970-01-01T00:00:03.000Z page=null event_type=view price=null qty=null ok=null raw=cjI= tiny=2 short=-3`
	row3 = `ts=1970-01-01T00:00:04.000Z page= event_type=click price=1 qty=4 ok=true raw= tiny=3 short=-4`
	row4 = `ts=1970-01-01T00:00:05.000Z page=/a event_type=purchase price=20 qty=5 ok=true raw=cjQ= tiny=4 short=-5`
)

func TestFilter(t *testing.T) {
	tests := []struct {
		p    expr.Predicate
		want []string
	}{
		{expr.Eq("event_type", "purchase"), []string{row1, row4}},
		{expr.Ne("page", ""), []string{row0, row1, row4}},
		{expr.Or(expr.IsNull("ok"), expr.Gt("qty", 3)), []string{row2, row3, row4}},
		{expr.Eq("ok", false), []string{row1}},
		{expr.Ge("ts", int64(3000)), []string{row2, row3, row4}},
		{expr.Lt("price", 1000), []string{row0, row1, row3, row4}},
		{expr.Eq("event_type", "none"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.p.String(), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			out, op := newOp(t, mem, Filter(tc.p), eventSchema)
			if !out.Equal(eventSchema) {
				t.Errorf("output schema %s", out)
			}
			main, dead := collect(t, op, eventBatch(mem))
			defer releaseAll(main)
			if len(dead) != 0 {
				t.Fatalf("dead letters from a filter")
			}
			if tc.want == nil {
				if len(main) != 0 {
					t.Fatalf("emitted %d batches for no match", len(main))
				}
				return
			}
			if len(main) != 1 {
				t.Fatalf("emitted %d batches", len(main))
			}
			b := main[0]
			if got := rowStrings(b.Rec); !slices.Equal(got, tc.want) {
				t.Errorf("rows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if b.Shard != "shard-1" || b.First.N != 10 || b.Last.N != 14 || b.MinTime != 1000 || b.MaxTime != 5000 {
				t.Errorf("batch metadata %+v", *b)
			}
			c := op.(*FilterOperator).Counters()
			if c["rows_in"] != 5 || c["rows_out"] != int64(len(tc.want)) {
				t.Errorf("counters %v", c)
			}
		})
	}
}

func TestFilterSlicedInput(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	full := eventBatch(mem)
	sliced := full.WithRecord(full.Rec.NewSlice(1, 5))
	full.Release()
	_, op := newOp(t, mem, Filter(expr.NotNull("page")), eventSchema)
	main, _ := collect(t, op, sliced)
	defer releaseAll(main)
	if got, want := rowStrings(main[0].Rec), []string{row1, row3, row4}; !slices.Equal(got, want) {
		t.Errorf("rows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestFilterAllMatchPassesBatchOn(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	_, op := newOp(t, mem, Filter(expr.NotNull("event_type")), eventSchema)
	in := eventBatch(mem)
	rec := in.Rec
	main, _ := collect(t, op, in)
	defer releaseAll(main)
	if len(main) != 1 || main[0].Rec != rec {
		t.Errorf("a batch whose rows all match should go on unchanged")
	}
}

func TestFilterBindErrors(t *testing.T) {
	list := arrow.NewSchema([]arrow.Field{{Name: "l", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64)}, {Name: "a", Type: arrow.PrimitiveTypes.Int64}}, nil)
	tests := []struct {
		stage pipeline.Stage
		in    *arrow.Schema
		want  string
	}{
		{Filter(expr.Eq("pag", "x")), eventSchema, `operators: filter: expr: column "pag" not in schema (have: ts, page, event_type`},
		{Filter(expr.Eq("page", 1)), eventSchema, `operators: filter: expr: page = 1: int value does not fit utf8 column "page"`},
		{Filter(nil), eventSchema, `operators: filter: nil predicate`},
		{Filter(expr.Eq("a", 1)), list, `operators: filter: column "l": type list<item: int64, nullable> is not supported`},
		{Project("ts", "pag"), eventSchema, `operators: project: column "pag" not in schema (have: ts, page, event_type, price, qty, ok, raw, tiny, short)`},
		{Project("ts", "ts"), eventSchema, `operators: project: column "ts" listed twice`},
		{Project(), eventSchema, `operators: project: no columns`},
		{Rename("pag", "path"), eventSchema, `operators: rename: column "pag" not in schema`},
		{Rename("page", "ts"), eventSchema, `operators: rename: column "ts" already exists`},
	}
	for _, tc := range tests {
		t.Run(tc.stage.Name(), func(t *testing.T) {
			_, _, err := tc.stage.Bind(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Bind error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestProjectAndRename(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	out, op := newOp(t, mem, Project("event_type", "ts"), eventSchema)
	if got := out.String(); !strings.Contains(got, "event_type: type=utf8") || out.NumFields() != 2 || out.Field(1).Name != "ts" {
		t.Errorf("project schema %s", got)
	}
	main, _ := collect(t, op, eventBatch(mem))
	projected := main[0]
	if got := rowStrings(projected.Rec); got[1] != `event_type=purchase ts=1970-01-01T00:00:02.000Z` || len(got) != 5 {
		t.Errorf("projected rows %q", got)
	}
	if projected.First.N != 10 || projected.MaxTime != 5000 {
		t.Errorf("metadata lost: %+v", *projected)
	}

	out, rop := newOp(t, mem, Rename("event_type", "kind"), out)
	if out.Field(0).Name != "kind" || out.Field(1).Name != "ts" {
		t.Errorf("rename schema %s", out)
	}
	renamed, _ := collect(t, rop, projected)
	defer releaseAll(renamed)
	if got := rowStrings(renamed[0].Rec); got[4] != `kind=purchase ts=1970-01-01T00:00:05.000Z` {
		t.Errorf("renamed rows %q", got)
	}
	if c := rop.(*ProjectOperator).Counters(); c["rows"] != 5 {
		t.Errorf("counters %v", c)
	}
}

// A slice does not know its null count until asked; Filter keeps the nulls
// of one whose columns nothing asked about.
func TestFilterSlicedInputKeepsNulls(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	full := eventBatch(mem)
	sliced := full.WithRecord(full.Rec.NewSlice(1, 5))
	full.Release()
	_, op := newOp(t, mem, Filter(expr.Ne("event_type", "click")), eventSchema)
	main, _ := collect(t, op, sliced)
	defer releaseAll(main)
	if got, want := rowStrings(main[0].Rec), []string{row1, row2, row4}; !slices.Equal(got, want) {
		t.Errorf("rows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
