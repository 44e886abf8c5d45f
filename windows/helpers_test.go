package windows

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/shardflow/shardflow/expr"
	"github.com/shardflow/shardflow/pipeline"
)

// eqPred is a tiny string-equality predicate, so that these tests do not
// depend on package expr's implementations.
type eqPred struct{ col, val string }

var _ expr.Predicate = eqPred{}

func (p eqPred) String() string { return p.col + " = " + strconv.Quote(p.val) }

func (p eqPred) Bind(s *arrow.Schema) (expr.Bound, error) {
	idx := s.FieldIndices(p.col)
	if len(idx) != 1 {
		return nil, fmt.Errorf("expr: no column %q", p.col)
	}
	if s.Field(idx[0]).Type.ID() != arrow.STRING {
		return nil, fmt.Errorf("expr: column %q is %s, want utf8", p.col, s.Field(idx[0]).Type)
	}
	return &eqBound{idx: idx[0], val: p.val}, nil
}

type eqBound struct {
	idx int
	val string
}

func (b *eqBound) Match(rec arrow.RecordBatch, dst []bool) []bool {
	a := rec.Column(b.idx).(*array.String)
	n := a.Len()
	if cap(dst) < n {
		dst = make([]bool, n)
	}
	dst = dst[:n]
	hasNulls := a.NullN() > 0
	for i := range n {
		dst[i] = (!hasNulls || a.IsValid(i)) && a.Value(i) == b.val
	}
	return dst
}

// testSchema is a clickstream-like input with a column of every kind the
// aggregates read.
var testSchema = arrow.NewSchema([]arrow.Field{
	{Name: "page", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "user_id", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "uid", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "event_type", Type: arrow.BinaryTypes.String},
	{Name: "price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "qty", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "big", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
	{Name: "flag", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "ts", Type: arrow.FixedWidthTypes.Timestamp_ms, Nullable: true},
}, nil)

// row is one input row of testSchema; nil pointers are nulls.
type row struct {
	page, user *string
	uid        *int64
	event      string
	price      *float64
	qty        *int32
	big        *uint64
	flag       *bool
	ts         *int64
}

func ptr[T any](v T) *T { return &v }

func buildBatch(t testing.TB, mem memory.Allocator, shard string, rows []row) *pipeline.Batch {
	t.Helper()
	b := array.NewRecordBuilder(mem, testSchema)
	defer b.Release()
	for _, r := range rows {
		appendOpt(b.Field(0).(*array.StringBuilder), r.page)
		appendOpt(b.Field(1).(*array.StringBuilder), r.user)
		appendOpt(b.Field(2).(*array.Int64Builder), r.uid)
		b.Field(3).(*array.StringBuilder).Append(r.event)
		appendOpt(b.Field(4).(*array.Float64Builder), r.price)
		appendOpt(b.Field(5).(*array.Int32Builder), r.qty)
		appendOpt(b.Field(6).(*array.Uint64Builder), r.big)
		appendOpt(b.Field(7).(*array.BooleanBuilder), r.flag)
		if r.ts == nil {
			b.Field(8).AppendNull()
		} else {
			b.Field(8).(*array.TimestampBuilder).Append(arrow.Timestamp(*r.ts))
		}
	}
	return &pipeline.Batch{Rec: b.NewRecordBatch(), Shard: shard, Before: pipeline.MinTime}
}

func appendOpt[T any, B interface {
	Append(T)
	AppendNull()
}](b B, v *T) {
	if v == nil {
		b.AppendNull()
	} else {
		b.Append(*v)
	}
}

// bindTestStage binds spec, keyed by keys, to testSchema and returns its
// operator constructor.
func bindTestStage(t testing.TB, spec *Spec, keys []string) func(pipeline.OperatorEnv) (pipeline.Operator, error) {
	t.Helper()
	st, err := spec.KeyedStage(keys, "ts")
	if err != nil {
		t.Fatal(err)
	}
	_, newOp, err := st.Bind(testSchema)
	if err != nil {
		t.Fatal(err)
	}
	return newOp
}

// testBound is the out-of-orderness bound of the test operators, in ms:
// randomSteps's watermarks trail the shards by as much.
const testBound = 4000

// newTestOp binds spec to testSchema and returns the operator, with the
// bound testBound.
func newTestOp(t testing.TB, mem memory.Allocator, spec *Spec, keys []string) *Operator {
	t.Helper()
	return newBoundOp(t, mem, spec, keys, testBound)
}

// lenientBound is a bound under which no row of randomSteps is late for its
// own shard: only the watermark makes rows late, as before rows were judged
// by their shard (the golden snapshots were written then).
const lenientBound = 1 << 40

// newBoundOp is newTestOp with the bound given.
func newBoundOp(t testing.TB, mem memory.Allocator, spec *Spec, keys []string, bound int64) *Operator {
	t.Helper()
	op, err := bindTestStage(t, spec, keys)(pipeline.OperatorEnv{Mem: mem, Bound: bound})
	if err != nil {
		t.Fatal(err)
	}
	return op.(*Operator)
}

// step is one input of a test script: a batch of a shard, or a watermark.
type step struct {
	shard string
	rows  []row
	wm    *int64
	// before is the shard's highest event time before the batch, as the
	// runtime gives it (Batch.Before), when clocked (see clockSteps).
	before  int64
	clocked bool
}

// clockSteps sets, on each batch step, the highest event time of its shard's
// earlier batches, as the runtime's shard tasks do.
func clockSteps(steps []step) []step {
	hi := map[string]int64{}
	for i := range steps {
		s := &steps[i]
		if s.wm != nil {
			continue
		}
		h, ok := hi[s.shard]
		if !ok {
			h = pipeline.MinTime
		}
		s.before, s.clocked = h, true
		for _, r := range s.rows {
			if r.ts != nil && *r.ts > h {
				h = *r.ts
			}
		}
		hi[s.shard] = h
	}
	return steps
}

// stepBatch builds s's batch, with its Before when s is clocked.
func stepBatch(t testing.TB, mem memory.Allocator, s step) *pipeline.Batch {
	b := buildBatch(t, mem, s.shard, s.rows)
	if s.clocked {
		b.Before = s.before
	}
	return b
}

// fired is what one OnWatermark call emitted.
type fired struct {
	rows       []string
	minT, maxT int64
	batches    int
}

// runSteps feeds steps[from:to] to op and returns, per watermark step, what it
// emitted.
func runSteps(t testing.TB, mem memory.Allocator, op *Operator, steps []step) []fired {
	t.Helper()
	ctx := context.Background()
	var out []fired
	for _, s := range steps {
		if s.wm == nil {
			if err := op.Process(ctx, stepBatch(t, mem, s), nil); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var f fired
		err := op.OnWatermark(ctx, *s.wm, func(b *pipeline.Batch) {
			f.batches++
			f.rows = append(f.rows, recordRows(b.Rec)...)
			f.minT, f.maxT = b.MinTime, b.MaxTime
			if !b.Rec.Schema().Equal(op.p.out) {
				t.Errorf("output schema %s, want %s", b.Rec.Schema(), op.p.out)
			}
			b.Release()
		})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

// recordRows renders rec's rows as "v1|v2|...", nulls as "null".
func recordRows(rec arrow.RecordBatch) []string {
	rows := make([]string, rec.NumRows())
	for i := range rows {
		cells := make([]string, rec.NumCols())
		for c := range cells {
			cells[c] = cell(rec.Column(c), i)
		}
		rows[i] = strings.Join(cells, "|")
	}
	return rows
}

func cell(a arrow.Array, i int) string {
	if a.IsNull(i) {
		return "null"
	}
	switch a := a.(type) {
	case *array.Timestamp:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Float64:
		return fmtFloat(a.Value(i))
	case *array.Float32:
		return fmtFloat(float64(a.Value(i)))
	}
	return a.ValueStr(i)
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
