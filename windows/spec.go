package windows

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/shardflow/shardflow/internal/take"
	"github.com/shardflow/shardflow/pipeline"
)

// Output columns that every window stage emits before its keys.
const (
	ColWindowStart = "window_start"
	ColWindowEnd   = "window_end"
)

// Spec is a windowed aggregation before it knows the job's key and event-time
// columns: an Assigner and the aggregates. It implements pipeline.WindowSpec.
type Spec struct {
	assigner Assigner
	aggs     []Agg
	late     bool   // LateRows
	lateness int64  // AllowedLateness, in milliseconds
	revEvery int64  // RevisionEvery, in milliseconds; 0 for the lateness
	badLate  string // the first invalid AllowedLateness or RevisionEvery
}

// LateSide is the side on which a window stage whose spec asks for it
// (LateRows) emits its late rows.
const LateSide pipeline.Side = "late"

// LateRows makes the stage emit its late rows on LateSide, as Flink's
// sideOutputLateData does: each input row that was late for every one of its
// windows, whole and unchanged, in the batch's order. The job then needs a
// sink for that side (pipeline.Builder.SideOutput(windows.LateSide, sink)),
// which is committed with the job's checkpoints like the others, so a late
// row reaches it exactly once. Without LateRows, late rows are only counted.
func (s *Spec) LateRows() *Spec {
	s.late = true
	return s
}

var _ pipeline.WindowSpec = (*Spec)(nil)

// Aggregate returns the spec that computes aggs over the windows of a. Errors
// (an invalid assigner, duplicate names) are reported by KeyedStage.
func Aggregate(a Assigner, aggs ...Agg) *Spec {
	return &Spec{assigner: a, aggs: append([]Agg(nil), aggs...)}
}

// KeyedStage implements pipeline.WindowSpec: the stage that aggregates by the
// key columns keys (none for one group per window) over the windows of the
// timestamp column eventTime.
func (s *Spec) KeyedStage(keys []string, eventTime string) (pipeline.Stage, error) {
	if s == nil || s.assigner == nil {
		return nil, errors.New("windows: no window assigner")
	}
	if err := s.assigner.Validate(); err != nil {
		return nil, err
	}
	if len(s.aggs) == 0 {
		return nil, errors.New("windows: no aggregates")
	}
	if eventTime == "" {
		return nil, errors.New("windows: no event-time column")
	}
	if err := checkColumns([2]string{ColWindowStart, ColWindowEnd}, "a window bound", keys, s.aggs, false); err != nil {
		return nil, err
	}
	lateness, every, err := s.checkLateness(keys)
	if err != nil {
		return nil, err
	}
	st := &stage{assigner: s.assigner, aggs: s.aggs, keys: append([]string(nil), keys...), eventTime: eventTime, late: s.late, lateness: lateness, revEvery: every}
	st.name = st.describe()
	return st, nil
}

// stage is a bound-to-columns window aggregation, the job's keyed stage.
type stage struct {
	assigner  Assigner
	aggs      []Agg
	keys      []string
	eventTime string
	name      string
	late      bool          // emit late rows on LateSide
	lateness  int64         // allowed lateness, ms; 0 for none
	revEvery  int64         // the revisions' step, ms, when lateness > 0
	in        *arrow.Schema // the input's, once bound: the late rows'
}

var (
	_ pipeline.Stage         = (*stage)(nil)
	_ pipeline.SideOutputter = (*stage)(nil)
)

// SideOutputs implements pipeline.SideOutputter: LateSide with the input's
// schema, when the spec asked for late rows (LateRows).
func (s *stage) SideOutputs() map[pipeline.Side]*arrow.Schema {
	if !s.late || s.in == nil {
		return nil
	}
	return map[pipeline.Side]*arrow.Schema{LateSide: s.in}
}

// Name implements pipeline.Stage:
// `tumbling(1m) on ts by page: count(events), count_distinct(users: user_id)`.
func (s *stage) Name() string { return s.name }

func (s *stage) describe() string {
	name := describe(s.assigner.String(), s.eventTime, s.keys, s.aggs)
	if s.lateness > 0 {
		name += fmt.Sprintf("; allowed lateness %s, revisions every %s", time.Duration(s.lateness)*time.Millisecond, time.Duration(s.revEvery)*time.Millisecond)
	}
	if s.late {
		name += "; late rows to side " + string(LateSide)
	}
	return name
}

// describe names a window stage: `WINDOWS on TIME by KEYS: AGG, AGG`.
func describe(windows, eventTime string, keys []string, aggs []Agg) string {
	var sb strings.Builder
	sb.WriteString(windows + " on " + eventTime)
	if len(keys) > 0 {
		sb.WriteString(" by " + strings.Join(keys, ", "))
	}
	sb.WriteString(": ")
	for i, a := range aggs {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(a.String())
	}
	return sb.String()
}

// checkColumns checks the output columns of a window stage: the two bounds
// it writes first (what they are, for errors), then the keys, then the
// aggregates, each named and named once, with the predicate and the column
// its kind needs. AnyIf is taken only where anyIf (session windows).
func checkColumns(bounds [2]string, what string, keys []string, aggs []Agg, anyIf bool) error {
	seen := map[string]string{bounds[0]: what, bounds[1]: what}
	for _, k := range keys {
		if k == "" {
			return errors.New("windows: empty key column name")
		}
		if what, dup := seen[k]; dup {
			return fmt.Errorf("windows: key column %q: output name already used by %s", k, what)
		}
		seen[k] = "key column " + strconv.Quote(k)
	}
	for _, a := range aggs {
		switch {
		case a.kind == kindInvalid:
			return errors.New("windows: invalid aggregate (zero Agg)")
		case a.name == "":
			return fmt.Errorf("windows: %s: empty output name", a.label())
		case a.kind == kindAnyIf && !anyIf:
			return fmt.Errorf("windows: %s: AnyIf is for session windows only", a.label())
		case (a.kind == kindCountIf || a.kind == kindSumIf || a.kind == kindAnyIf) && a.pred == nil:
			return fmt.Errorf("windows: %s: nil predicate", a.label())
		case a.kind != kindCount && a.kind != kindCountIf && a.kind != kindAnyIf && a.col == "":
			return fmt.Errorf("windows: %s: empty column name", a.label())
		}
		if what, dup := seen[a.name]; dup {
			return fmt.Errorf("windows: %s: output name already used by %s", a.label(), what)
		}
		seen[a.name] = a.label()
	}
	return nil
}

// Bind implements pipeline.Stage.
func (s *stage) Bind(in *arrow.Schema) (*arrow.Schema, func(pipeline.OperatorEnv) (pipeline.Operator, error), error) {
	p, err := s.plan(in)
	if err != nil {
		return nil, nil, err
	}
	if s.late {
		for _, f := range in.Fields() {
			if err := take.Supported(f.Type); err != nil {
				return nil, nil, fmt.Errorf("windows: late rows: column %q: %w", f.Name, err)
			}
		}
		s.in, p.late = in, true
	}
	newOp := func(env pipeline.OperatorEnv) (pipeline.Operator, error) { return newOperator(p, env) }
	return p.out, newOp, nil
}

// plan is everything an operator needs to know about its stage and schema.
type plan struct {
	late     bool  // emit late rows on LateSide
	lateness int64 // allowed lateness, ms; 0 for none (no revision column)
	revEvery int64 // the revisions' step, ms, when lateness > 0
	name     string
	in       *arrow.Schema
	out      *arrow.Schema
	assigner Assigner  // with panes, the panes' (tumbling by the slide)
	size     int64     // the assigner's window size
	fanout   int       // the assigner's windows per row
	panes    *panePlan // sliding windows on panes (panes.go), or nil
	timeCol  int
	keyCols  []int
	keyPhys  []physType
	aggs     []aggPlan
}

type aggPlan struct {
	Agg
	col     int // -1 for Count and CountIf
	phys    physType
	outType arrow.DataType
	store   storeMask
	update  updateFn // Sum, SumIf, Min, Max, Avg, custom
}

func (s *stage) plan(in *arrow.Schema) (*plan, error) {
	if in == nil {
		return nil, errors.New("windows: nil input schema")
	}
	p := &plan{name: s.name, in: in, assigner: s.assigner, size: s.assigner.Size(), fanout: s.assigner.Fanout(), lateness: s.lateness, revEvery: s.revEvery}
	if pp, tumbling := panesOf(s.assigner); pp != nil {
		if p.lateness > 0 {
			return nil, fmt.Errorf("windows: %s: %w", s.name, errPanesLateness)
		}
		p.panes, p.assigner, p.size, p.fanout = pp, tumbling, tumbling.Size(), 1
	}
	fields := []arrow.Field{
		{Name: ColWindowStart, Type: arrow.FixedWidthTypes.Timestamp_ms},
		{Name: ColWindowEnd, Type: arrow.FixedWidthTypes.Timestamp_ms},
	}

	tc, tf, ok := column(in, s.eventTime)
	if !ok {
		return nil, fmt.Errorf("windows: no event-time column %q", s.eventTime)
	}
	if _, isTS := tf.Type.(*arrow.TimestampType); !isTS {
		return nil, fmt.Errorf("windows: event-time column %q is %s, want a timestamp", s.eventTime, tf.Type)
	}
	p.timeCol = tc

	for _, k := range s.keys {
		c, f, ok := column(in, k)
		if !ok {
			return nil, fmt.Errorf("windows: no key column %q", k)
		}
		ph := physOf(f.Type)
		if !ph.isString() && !ph.isInt() && ph != pBool {
			return nil, fmt.Errorf("windows: key column %q is %s, want a string, integer or bool", k, f.Type)
		}
		p.keyCols = append(p.keyCols, c)
		p.keyPhys = append(p.keyPhys, ph)
		fields = append(fields, arrow.Field{Name: k, Type: f.Type, Nullable: f.Nullable})
	}

	for _, a := range s.aggs {
		ap, err := planAgg(a, in)
		if err != nil {
			return nil, err
		}
		nullable := a.kind == kindMin || a.kind == kindMax || a.kind == kindAvg || a.kind == kindFirst || a.kind == kindLast || a.kind == kindCustom
		fields = append(fields, arrow.Field{Name: a.name, Type: ap.outType, Nullable: nullable})
		p.aggs = append(p.aggs, ap)
	}
	if p.lateness > 0 {
		fields = append(fields, arrow.Field{Name: ColRevision, Type: arrow.PrimitiveTypes.Int64})
	}
	p.out = arrow.NewSchema(fields, nil)
	return p, nil
}

func planAgg(a Agg, in *arrow.Schema) (aggPlan, error) {
	ap := aggPlan{Agg: a, col: -1}
	if a.pred != nil {
		if _, err := a.pred.Bind(in); err != nil {
			return ap, fmt.Errorf("windows: %s: %w", a.label(), err)
		}
	}
	if a.kind == kindCount || a.kind == kindCountIf {
		ap.outType, ap.store = arrow.PrimitiveTypes.Int64, storeN
		return ap, nil
	}
	c, f, ok := column(in, a.col)
	if !ok {
		return ap, fmt.Errorf("windows: %s: no column %q", a.label(), a.col)
	}
	ap.col, ap.phys = c, physOf(f.Type)
	ph := ap.phys
	want := ""
	switch a.kind {
	case kindSum, kindSumIf:
		if !ph.isNumber() {
			want = "a number"
			break
		}
		if ph.isFloat() {
			ap.outType, ap.store, ap.update = arrow.PrimitiveTypes.Float64, storeF, sumUpdater(ph)
		} else {
			ap.outType, ap.store, ap.update = arrow.PrimitiveTypes.Int64, storeI, sumUpdater(ph)
		}
	case kindAvg:
		if !ph.isNumber() {
			want = "a number"
			break
		}
		ap.outType, ap.store, ap.update = arrow.PrimitiveTypes.Float64, storeN|ph.sumStore(), avgUpdater(ph)
	case kindMin, kindMax:
		if !ph.isNumber() && ph != pTS {
			want = "a number or timestamp"
			break
		}
		ap.outType, ap.store, ap.update = f.Type, storeN|ph.extremumStore(), extremumUpdater(ph, a.kind == kindMin)
	case kindFirst, kindLast:
		if !ph.isNumber() && ph != pTS {
			want = "a number or timestamp"
			break
		}
		ap.outType, ap.store = f.Type, storeN|storeT|ph.extremumStore()
	case kindCountDistinct:
		if !ph.isString() && !ph.isInt() {
			want = "a string or integer"
			break
		}
		ap.outType, ap.store = arrow.PrimitiveTypes.Int64, storeN|storeI // count, representation
	case kindCustom:
		if err := planCustom(&ap, f.Type); err != nil {
			return ap, err
		}
	}
	if want != "" {
		return ap, fmt.Errorf("windows: %s: column %q is %s, want %s", a.label(), a.col, f.Type, want)
	}
	return ap, nil
}

// column finds the one field named name.
func column(s *arrow.Schema, name string) (int, arrow.Field, bool) {
	idx := s.FieldIndices(name)
	if len(idx) != 1 {
		return -1, arrow.Field{}, false
	}
	return idx[0], s.Field(idx[0]), true
}

// physType is how the operator reads a column's values.
type physType uint8

const (
	pNone physType = iota
	pI8
	pI16
	pI32
	pI64
	pU8
	pU16
	pU32
	pU64
	pF32
	pF64
	pTS // timestamp of any unit, read as int64
	pStr
	pLargeStr
	pBool
)

func physOf(t arrow.DataType) physType {
	switch t.ID() {
	case arrow.INT8:
		return pI8
	case arrow.INT16:
		return pI16
	case arrow.INT32:
		return pI32
	case arrow.INT64:
		return pI64
	case arrow.UINT8:
		return pU8
	case arrow.UINT16:
		return pU16
	case arrow.UINT32:
		return pU32
	case arrow.UINT64:
		return pU64
	case arrow.FLOAT32:
		return pF32
	case arrow.FLOAT64:
		return pF64
	case arrow.TIMESTAMP:
		return pTS
	case arrow.STRING:
		return pStr
	case arrow.LARGE_STRING:
		return pLargeStr
	case arrow.BOOL:
		return pBool
	}
	return pNone
}

func (p physType) isInt() bool    { return p >= pI8 && p <= pU64 }
func (p physType) isUint() bool   { return p >= pU8 && p <= pU64 }
func (p physType) isFloat() bool  { return p == pF32 || p == pF64 }
func (p physType) isNumber() bool { return p.isInt() || p.isFloat() }
func (p physType) isString() bool { return p == pStr || p == pLargeStr }

// sumStore is where a sum of p's values accumulates.
func (p physType) sumStore() storeMask {
	if p.isFloat() {
		return storeF
	}
	return storeI
}

// extremumStore is where a min or max of p's values is kept.
func (p physType) extremumStore() storeMask {
	switch {
	case p.isFloat():
		return storeF
	case p == pU64:
		return storeU
	}
	return storeI
}
