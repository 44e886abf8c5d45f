package windows

import (
	"errors"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/shardflow/shardflow/pipeline"
)

// Output columns of a session window stage, after its keys.
const (
	ColSessionStart = "session_start"
	ColSessionEnd   = "session_end"
)

// SessionWindows groups each key's rows into sessions of activity separated
// by an inactivity gap, on event time. Rows of a key whose event times are at
// most the gap apart (directly or through other rows of the key) are one
// session, as in Flink's and Spark's session windows; a session is
// [first event time, last event time], both included.
//
// A session closes, and is emitted, once the watermark passes last+gap: no
// row that could extend it can arrive any more. A row that bridges two open
// sessions (within the gap of both) merges them, and their partial
// aggregates. A row is late when its session, after merging with the key's
// open sessions, would have closed already (last+gap < watermark): it is
// dropped and counted in "late_rows", as in Flink.
type SessionWindows struct {
	gap int64
	err error
}

// Session returns session windows with the given inactivity gap, a positive
// whole number of milliseconds; an invalid gap is reported when the spec is
// bound (KeyedStage).
func Session(gap time.Duration) *SessionWindows {
	ms, err := durationMillis("session gap", gap)
	return &SessionWindows{gap: ms, err: err}
}

// String renders the windows in stage names: "session(30m)".
func (w *SessionWindows) String() string { return "session(" + formatMillis(w.gap) + ")" }

// Validate reports whether the gap makes sense.
func (w *SessionWindows) Validate() error { return w.err }

// Gap is the inactivity gap in milliseconds.
func (w *SessionWindows) Gap() int64 { return w.gap }

// Aggregate returns the window spec that computes aggs over w's sessions.
// Every aggregate of Tumbling windows is supported; First and Last also take
// a string column, and AnyIf is available.
func (w *SessionWindows) Aggregate(aggs ...Agg) *SessionSpec {
	return &SessionSpec{w: w, aggs: append([]Agg(nil), aggs...)}
}

// SessionSpec is a session-windowed aggregation before it knows the job's key
// and event-time columns. It implements pipeline.WindowSpec.
type SessionSpec struct {
	w    *SessionWindows
	aggs []Agg
}

var _ pipeline.WindowSpec = (*SessionSpec)(nil)

// KeyedStage implements pipeline.WindowSpec: the stage that groups the rows of
// each key (the columns keys; none for one group) into sessions on the
// timestamp column eventTime.
func (s *SessionSpec) KeyedStage(keys []string, eventTime string) (pipeline.Stage, error) {
	if s == nil || s.w == nil {
		return nil, errors.New("windows: no session windows")
	}
	if err := s.w.Validate(); err != nil {
		return nil, err
	}
	if len(s.aggs) == 0 {
		return nil, errors.New("windows: no aggregates")
	}
	if eventTime == "" {
		return nil, errors.New("windows: no event-time column")
	}
	if err := checkColumns([2]string{ColSessionStart, ColSessionEnd}, "a session bound", keys, s.aggs, true); err != nil {
		return nil, err
	}
	st := &sessionStage{gap: s.w.gap, aggs: s.aggs, keys: append([]string(nil), keys...), eventTime: eventTime}
	st.name = describe(s.w.String(), eventTime, keys, s.aggs)
	return st, nil
}

// sessionStage is a session aggregation bound to its columns.
type sessionStage struct {
	gap       int64
	aggs      []Agg
	keys      []string
	eventTime string
	name      string
}

var _ pipeline.Stage = (*sessionStage)(nil)

// Name implements pipeline.Stage:
// `session(30m) on ts by user_id: count(events), first(landing_page: page)`.
func (s *sessionStage) Name() string { return s.name }

// Bind implements pipeline.Stage.
func (s *sessionStage) Bind(in *arrow.Schema) (*arrow.Schema, func(pipeline.OperatorEnv) (pipeline.Operator, error), error) {
	p, err := s.plan(in)
	if err != nil {
		return nil, nil, err
	}
	newOp := func(env pipeline.OperatorEnv) (pipeline.Operator, error) { return newSessionOperator(p, env) }
	return p.out, newOp, nil
}

// sessionPlan is what a session operator knows of its stage and schema.
type sessionPlan struct {
	name    string
	in, out *arrow.Schema
	gap     int64
	timeCol int
	keyCols []int
	keyPhys []physType
	// aggs are planned as for Tumbling windows, except: AnyIf runs as a
	// CountIf (any[a] set) whose output is count > 0, and First or Last of
	// a string column (strs[a] set) keeps the value's id in a dict of the
	// operator as an int64 partial.
	aggs []aggPlan
	any  []bool
	strs []bool
	// dist[a] is set for a CountDistinct: n counts the values of a
	// session's set of value ids (sessShard.dv).
	dist []bool
}

func (s *sessionStage) plan(in *arrow.Schema) (*sessionPlan, error) {
	if in == nil {
		return nil, errors.New("windows: nil input schema")
	}
	p := &sessionPlan{name: s.name, in: in, gap: s.gap}
	var fields []arrow.Field
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
	fields = append(fields,
		arrow.Field{Name: ColSessionStart, Type: arrow.FixedWidthTypes.Timestamp_ms},
		arrow.Field{Name: ColSessionEnd, Type: arrow.FixedWidthTypes.Timestamp_ms})
	for _, a := range s.aggs {
		var ap aggPlan
		var err error
		isAny, isStr := a.kind == kindAnyIf, false
		switch {
		case isAny:
			c := a
			c.kind = kindCountIf
			if ap, err = planAgg(c, in); err == nil {
				ap.outType = arrow.FixedWidthTypes.Boolean
			}
		case a.kind == kindFirst || a.kind == kindLast:
			if c, f, ok := column(in, a.col); ok && physOf(f.Type).isString() {
				isStr = true
				ap = aggPlan{Agg: a, col: c, phys: physOf(f.Type), outType: f.Type, store: storeN | storeT | storeI}
				break
			}
			ap, err = planAgg(a, in)
		default:
			ap, err = planAgg(a, in)
		}
		if err != nil {
			return nil, err
		}
		if a.kind == kindCountDistinct {
			ap.store = storeN
		}
		nullable := a.kind == kindMin || a.kind == kindMax || a.kind == kindAvg || a.kind == kindFirst || a.kind == kindLast
		fields = append(fields, arrow.Field{Name: a.name, Type: ap.outType, Nullable: nullable})
		p.aggs = append(p.aggs, ap)
		p.any = append(p.any, isAny)
		p.strs = append(p.strs, isStr)
		p.dist = append(p.dist, a.kind == kindCountDistinct)
	}
	p.out = arrow.NewSchema(fields, nil)
	return p, nil
}
