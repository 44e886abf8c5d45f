// Package tiles computes an entity's features over trailing windows of event
// time (the events of a user's last hour, the revenue of the last day) from
// fixed-size tiles, the way online feature platforms do: each record adds to
// the tile of its entity and event time, and a feature over a window of N
// tiles is the sum of the N tiles that end with the one it is computed for.
//
//	pipeline.New("features").
//		From(src).
//		Decode(...).
//		Watermark("ts", 10*time.Second).
//		KeyBy("user_id").
//		Window(tiles.Every(time.Minute).Features(
//			tiles.Count("events_1h", time.Hour),
//			tiles.SumIf("revenue_1h", "price", time.Hour, isPurchase),
//			tiles.Last("last_page", "page"),
//			tiles.LastTime("last_event_ts"),
//		).Online("online")).
//		To(offlineTable).
//		SideOutput("online", featureStore)
//
// # Two outputs that agree
//
// The main output has one row per entity and tile in which the entity had
// records, once the watermark has passed the tile's end: the features as of
// the end of that tile, for point-in-time-correct training sets. The online
// side (Spec.Online) has, at every checkpoint, one row per entity that records
// touched since the previous one: the features as of the tile that holds the
// entity's latest record, for a feature store. (Emitting them at the barrier
// rather than after every batch keeps the side to one row per entity and
// checkpoint: on the features job's default million events, 10,000 rows
// instead of 683,718.) Both are computed by the same function of the same
// tiles, so the online row of an entity equals the offline row of its latest
// tile once that tile has closed.
//
// Every output row has the columns window_start and window_end (the tile
// the features are as of), the key, the features in their order, and
// revision: the records the row reflects within the longest feature window.
// For a given latest event time the revision only grows as records arrive, so
// (latest event time, revision) orders an entity's online rows: a store that
// keeps the greater (sinks/featurestore does) never goes back to an older
// value on a replay or a restart.
//
// # Lateness
//
// A record whose tile has ended at the watermark (end <= watermark) is late:
// its tile's offline row is out already, so it is counted (late_rows) and
// affects neither output, which keeps the two in agreement. A record without
// an event time or a key is counted (null_rows) and skipped.
//
// # State
//
// An entity keeps the tiles that a future row can still need: those after
// min(the watermark's tile, its latest tile) minus the longest window. An
// entity whose latest tile is a longest window behind the watermark is
// dropped (its online row stays where the sink put it; a later record starts
// it afresh, and none of its old tiles would be in that record's windows).
// State is checkpointed per source shard: an entity is kept with the shard of
// its latest record, so a shard's part moves with the shard when the entity's
// records are partitioned by the key, as Kinesis partition keys do.
package tiles

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/shardflow/shardflow/expr"
	"github.com/shardflow/shardflow/pipeline"
)

// The columns every output row has besides the key and the features.
const (
	ColWindowStart = "window_start"
	ColWindowEnd   = "window_end"
	ColRevision    = "revision"
)

// Spec declares tiled features; it is a pipeline.WindowSpec.
type Spec struct {
	tile   time.Duration
	feats  []Feature
	online pipeline.Side
	errs   []error
}

// Every starts a Spec whose tiles are tile long (a minute, typically); windows
// are whole numbers of tiles.
func Every(tile time.Duration) *Spec {
	s := &Spec{tile: tile}
	if tile < time.Millisecond || tile%time.Millisecond != 0 {
		s.errs = append(s.errs, fmt.Errorf("tiles: tile %v: want a positive whole number of milliseconds", tile))
	}
	return s
}

// Features adds features, in the order of their output columns.
func (s *Spec) Features(fs ...Feature) *Spec {
	s.feats = append(s.feats, fs...)
	return s
}

// Online makes the operator emit, on side, the current features of every
// entity touched since the previous checkpoint, at each checkpoint (see the
// package documentation).
func (s *Spec) Online(side pipeline.Side) *Spec {
	if side == pipeline.MainSide || side == pipeline.DeadLetterSide {
		s.errs = append(s.errs, fmt.Errorf("tiles: Online(%q): want a side of its own", side))
	}
	s.online = side
	return s
}

type kind uint8

const (
	kindCount kind = iota + 1
	kindCountIf
	kindSum
	kindSumIf
	kindLast
	kindLastTime
)

// Feature is one feature of a Spec.
type Feature struct {
	kind kind
	name string
	col  string
	over time.Duration
	pred expr.Predicate
}

// Count is the number of records over the trailing window over.
func Count(name string, over time.Duration) Feature {
	return Feature{kind: kindCount, name: name, over: over}
}

// CountIf is the number of records over the window for which pred holds.
func CountIf(name string, over time.Duration, pred expr.Predicate) Feature {
	return Feature{kind: kindCountIf, name: name, over: over, pred: pred}
}

// Sum is the sum of the column col (int64 or float64; nulls add nothing)
// over the window.
func Sum(name, col string, over time.Duration) Feature {
	return Feature{kind: kindSum, name: name, col: col, over: over}
}

// SumIf is the sum of col over the window's records for which pred holds.
func SumIf(name, col string, over time.Duration, pred expr.Predicate) Feature {
	return Feature{kind: kindSumIf, name: name, col: col, over: over, pred: pred}
}

// Last is the value of col (string, int64, float64 or a timestamp) in the
// entity's latest record by event time, as of the tile; of records with the
// same event time, the one read last.
func Last(name, col string) Feature { return Feature{kind: kindLast, name: name, col: col} }

// LastTime is the event time of the entity's latest record, as of the tile.
func LastTime(name string) Feature { return Feature{kind: kindLastTime, name: name} }

func (f Feature) String() string {
	var b strings.Builder
	switch f.kind {
	case kindCount:
		fmt.Fprintf(&b, "count[%v]", f.over)
	case kindCountIf:
		fmt.Fprintf(&b, "count_if(%s)[%v]", f.pred, f.over)
	case kindSum:
		fmt.Fprintf(&b, "sum(%s)[%v]", f.col, f.over)
	case kindSumIf:
		fmt.Fprintf(&b, "sum_if(%s, %s)[%v]", f.col, f.pred, f.over)
	case kindLast:
		fmt.Fprintf(&b, "last(%s)", f.col)
	case kindLastTime:
		b.WriteString("last_time")
	default:
		return fmt.Sprintf("feature(%q)", f.name)
	}
	return f.name + "=" + b.String()
}

// windowed reports whether f is computed over a window of tiles.
func (f Feature) windowed() bool { return f.kind != kindLast && f.kind != kindLastTime }

// KeyedStage implements pipeline.WindowSpec.
func (s *Spec) KeyedStage(keys []string, eventTime string) (pipeline.Stage, error) {
	errs := append([]error(nil), s.errs...)
	if len(keys) != 1 {
		errs = append(errs, fmt.Errorf("tiles: KeyBy(%s): want one key column, the entity's", strings.Join(keys, ", ")))
	}
	if len(s.feats) == 0 {
		errs = append(errs, errors.New("tiles: no features"))
	}
	tile := s.tile.Milliseconds()
	seen := map[string]bool{ColWindowStart: true, ColWindowEnd: true, ColRevision: true}
	for _, k := range keys {
		seen[k] = true
	}
	names := make([]string, len(s.feats))
	for i, f := range s.feats {
		names[i] = f.String()
		switch {
		case f.name == "" || seen[f.name]:
			errs = append(errs, fmt.Errorf("tiles: feature name %q is empty or taken", f.name))
		case f.kind < kindCount || f.kind > kindLastTime:
			errs = append(errs, fmt.Errorf("tiles: feature %q: declare it with Count, CountIf, Sum, SumIf, Last or LastTime", f.name))
		case (f.kind == kindCountIf || f.kind == kindSumIf) && f.pred == nil:
			errs = append(errs, fmt.Errorf("tiles: feature %q: nil predicate", f.name))
		case f.windowed() && tile > 0 && (f.over <= 0 || f.over.Milliseconds()%tile != 0 || f.over%time.Millisecond != 0):
			errs = append(errs, fmt.Errorf("tiles: feature %q: window %v: want a positive multiple of the tile, %v", f.name, f.over, s.tile))
		}
		seen[f.name] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	name := fmt.Sprintf("tiles(%v; key=%s; time=%s; %s", s.tile, keys[0], eventTime, strings.Join(names, ", "))
	if s.online != "" {
		name += "; online=" + string(s.online)
	}
	return &stage{name: name + ")", spec: s, key: keys[0], eventTime: eventTime}, nil
}

// stage is the keyed stage of a Spec.
type stage struct {
	name      string
	spec      *Spec
	key       string
	eventTime string
	out       *arrow.Schema // set by Bind
}

func (s *stage) Name() string { return s.name }

// SideOutputs implements pipeline.SideOutputter: the online side, if any, has
// the schema of the main output.
func (s *stage) SideOutputs() map[pipeline.Side]*arrow.Schema {
	if s.spec.online == "" {
		return nil
	}
	return map[pipeline.Side]*arrow.Schema{s.spec.online: s.out}
}

func (s *stage) Bind(in *arrow.Schema) (*arrow.Schema, func(pipeline.OperatorEnv) (pipeline.Operator, error), error) {
	p, err := newPlan(s, in)
	if err != nil {
		return nil, nil, err
	}
	s.out = p.out
	return p.out, func(env pipeline.OperatorEnv) (pipeline.Operator, error) { return newOperator(p, env) }, nil
}

// plan is what an operator needs to know of its stage and input schema.
type plan struct {
	name    string
	in, out *arrow.Schema
	tile    int64 // ms
	timeCol int
	keyCol  int
	online  pipeline.Side
	feats   []featPlan
	maxOver int64 // the longest window, in tiles (at least 1)
	nInts   int   // slots per tile of each kind
	nFloats int
	nLasts  int
}

type featPlan struct {
	Feature
	col   int // -1 for none
	float bool
	typ   arrow.DataType // of the output column
	over  int64          // tiles
	slot  int            // into the tile's ints, floats or lasts
}

func newPlan(s *stage, in *arrow.Schema) (*plan, error) {
	if in == nil {
		return nil, errors.New("tiles: nil input schema")
	}
	column := func(name string) (int, arrow.Field, error) {
		idx := in.FieldIndices(name)
		if len(idx) != 1 {
			return 0, arrow.Field{}, fmt.Errorf("tiles: no column %q in the input (it has %s)", name, in)
		}
		return idx[0], in.Field(idx[0]), nil
	}
	p := &plan{name: s.name, in: in, tile: s.spec.tile.Milliseconds(), online: s.spec.online, maxOver: 1}
	tc, tf, err := column(s.eventTime)
	if err != nil {
		return nil, err
	}
	if _, ok := tf.Type.(*arrow.TimestampType); !ok {
		return nil, fmt.Errorf("tiles: event-time column %q is %s, want a timestamp", s.eventTime, tf.Type)
	}
	p.timeCol = tc
	kc, kf, err := column(s.key)
	if err != nil {
		return nil, err
	}
	if kf.Type.ID() != arrow.STRING {
		return nil, fmt.Errorf("tiles: key column %q is %s, want a string", s.key, kf.Type)
	}
	p.keyCol = kc
	fields := []arrow.Field{
		{Name: ColWindowStart, Type: arrow.FixedWidthTypes.Timestamp_ms},
		{Name: ColWindowEnd, Type: arrow.FixedWidthTypes.Timestamp_ms},
		{Name: s.key, Type: arrow.BinaryTypes.String},
	}
	for _, f := range s.spec.feats {
		fp := featPlan{Feature: f, col: -1}
		if f.pred != nil {
			if _, err := f.pred.Bind(in); err != nil {
				return nil, fmt.Errorf("tiles: feature %q: %w", f.name, err)
			}
		}
		if f.windowed() {
			fp.over = f.over.Milliseconds() / p.tile
			p.maxOver = max(p.maxOver, fp.over)
		}
		switch f.kind {
		case kindCount, kindCountIf:
			fp.typ, fp.slot = arrow.PrimitiveTypes.Int64, p.nInts
			p.nInts++
		case kindSum, kindSumIf:
			c, cf, err := column(f.col)
			if err != nil {
				return nil, fmt.Errorf("tiles: feature %q: %w", f.name, err)
			}
			switch cf.Type.ID() {
			case arrow.INT64:
				fp.typ, fp.slot = arrow.PrimitiveTypes.Int64, p.nInts
				p.nInts++
			case arrow.FLOAT64:
				fp.typ, fp.slot, fp.float = arrow.PrimitiveTypes.Float64, p.nFloats, true
				p.nFloats++
			default:
				return nil, fmt.Errorf("tiles: feature %q: column %q is %s, want int64 or float64", f.name, f.col, cf.Type)
			}
			fp.col = c
		case kindLast:
			c, cf, err := column(f.col)
			if err != nil {
				return nil, fmt.Errorf("tiles: feature %q: %w", f.name, err)
			}
			switch cf.Type.ID() {
			case arrow.STRING:
				fp.typ = arrow.BinaryTypes.String
			case arrow.INT64:
				fp.typ = arrow.PrimitiveTypes.Int64
			case arrow.FLOAT64:
				fp.typ, fp.float = arrow.PrimitiveTypes.Float64, true
			case arrow.TIMESTAMP:
				if cf.Type.(*arrow.TimestampType).Unit != arrow.Millisecond {
					return nil, fmt.Errorf("tiles: feature %q: column %q is %s, want milliseconds", f.name, f.col, cf.Type)
				}
				fp.typ = arrow.FixedWidthTypes.Timestamp_ms
			default:
				return nil, fmt.Errorf("tiles: feature %q: column %q is %s, want a string, int64, float64 or timestamp", f.name, f.col, cf.Type)
			}
			fp.col, fp.slot = c, p.nLasts
			p.nLasts++
		case kindLastTime:
			fp.typ = arrow.FixedWidthTypes.Timestamp_ms
		}
		fields = append(fields, arrow.Field{Name: f.name, Type: fp.typ, Nullable: f.kind == kindLast})
		p.feats = append(p.feats, fp)
	}
	fields = append(fields, arrow.Field{Name: ColRevision, Type: arrow.PrimitiveTypes.Int64})
	p.out = arrow.NewSchema(fields, nil)
	return p, nil
}
