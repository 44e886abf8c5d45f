package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Builder declares a job step by step; Build checks the whole declaration and
// returns a runnable Job. The first mistake is kept and reported by Build, so a
// declaration reads as one chain:
//
//	job, err := pipeline.New("clickstream").
//		From(src).
//		Decode(operators.JSON(schema, operators.JSONOptions{})).
//		Watermark("ts", 10*time.Second).
//		KeyBy("page").
//		Window(windows.Tumbling(time.Minute).Aggregate(windows.Count("events"))).
//		To(sink).
//		DeadLetters(deadLetters).
//		Checkpoints(store, 10*time.Second).
//		Build()
type Builder struct {
	name        string
	src         Source
	shardStages []Stage // run fused in every shard task
	eventTime   string
	bound       time.Duration
	maxAhead    time.Duration // MaxAhead
	keys        []string
	window      WindowSpec
	postStages  []Stage // run after the window, where the shards meet
	sink        Sink
	sides       map[Side]Sink
	emitted     map[Side]emittedSide // the sides the bound stages emit
	store       CheckpointStore
	interval    time.Duration
	errs        []error
}

// New starts the declaration of a job. The name identifies the job's
// checkpoints and output: letters, digits, '-', '_' and '.'.
func New(name string) *Builder {
	return &Builder{name: name, sides: map[Side]Sink{}, interval: 10 * time.Second}
}

func (b *Builder) fail(format string, args ...any) *Builder {
	b.errs = append(b.errs, fmt.Errorf("pipeline: job %q: "+format, append([]any{b.name}, args...)...))
	return b
}

// From sets the job's source.
func (b *Builder) From(src Source) *Builder {
	switch {
	case src == nil:
		return b.fail("From(nil)")
	case b.src != nil:
		return b.fail("From called twice")
	}
	b.src = src
	return b
}

// Decode adds the stage that turns raw source records into rows of a schema;
// it is Apply under a name that says what the first stage usually does.
func (b *Builder) Decode(s Stage) *Builder { return b.Apply(s) }

// Apply adds a stage. Before Window it runs in every shard task, fused with the
// other shard-local stages; after Window it runs on the window's output.
func (b *Builder) Apply(s Stage) *Builder {
	switch {
	case s == nil:
		return b.fail("Apply(nil)")
	case b.window != nil:
		b.postStages = append(b.postStages, s)
	case len(b.keys) > 0:
		return b.fail("Apply(%s) after KeyBy: a keyed stream goes into a Window", s.Name())
	default:
		b.shardStages = append(b.shardStages, s)
	}
	return b
}

// Watermark declares the event-time column and the bounded out-of-orderness:
// a shard's watermark is the highest event time it has produced minus bound.
func (b *Builder) Watermark(column string, bound time.Duration) *Builder {
	if b.eventTime != "" {
		return b.fail("Watermark called twice")
	}
	if column == "" || bound < 0 {
		return b.fail("Watermark(%q, %v): want a column and a bound >= 0", column, bound)
	}
	b.eventTime, b.bound = column, bound
	return b
}

// MaxAhead guards the watermark against a wild clock: a row whose event
// time is more than d ahead of when the source received its record (the
// raw batch's latest RawArrival, from sources that know it, such as
// Kinesis's ApproximateArrivalTimestamp) moves neither its shard's
// watermark nor the job's, and the keyed stage treats it as late (a window
// stage counts it in "late_rows" and, with LateRows, emits it on its late
// side). Without MaxAhead (or with a source that does not
// tell arrival times), one event stamped hours ahead moves its shard's
// watermark by hours, and the shard's later rows are late.
func (b *Builder) MaxAhead(d time.Duration) *Builder {
	if d <= 0 {
		return b.fail("MaxAhead(%v): want a duration > 0", d)
	}
	b.maxAhead = d
	return b
}

// KeyBy declares the columns that group rows for the Window that follows.
func (b *Builder) KeyBy(columns ...string) *Builder {
	if len(columns) == 0 {
		return b.fail("KeyBy needs at least one column")
	}
	b.keys = append(b.keys, columns...)
	return b
}

// Window adds the job's windowed computation, keyed by the KeyBy columns.
func (b *Builder) Window(w WindowSpec) *Builder {
	if b.window != nil {
		return b.fail("Window called twice")
	}
	if w == nil {
		return b.fail("Window(nil)")
	}
	b.window = w
	return b
}

// To sets the sink of the job's main output.
func (b *Builder) To(s Sink) *Builder {
	switch {
	case s == nil:
		return b.fail("To(nil)")
	case b.sink != nil:
		return b.fail("To called twice")
	}
	b.sink = s
	return b
}

// DeadLetters sets the sink of the records that could not be processed (rows
// of DeadLetterSchema). A job without one fails at its first rejected record
// instead of losing it.
func (b *Builder) DeadLetters(s Sink) *Builder {
	switch {
	case s == nil:
		return b.fail("DeadLetters(nil)")
	case b.sides[DeadLetterSide] != nil:
		return b.fail("DeadLetters called twice")
	}
	b.sides[DeadLetterSide] = s
	return b
}

// SideOutput sets the sink of side, a secondary output that a stage of the
// job emits (see SideOutputter); the sink is staged and committed with the
// same checkpoints as the main output.
func (b *Builder) SideOutput(side Side, s Sink) *Builder {
	switch {
	case side == MainSide:
		return b.fail("SideOutput: the main side's sink is set with To")
	case side == DeadLetterSide:
		return b.fail("SideOutput(%q): set the dead-letter sink with DeadLetters", side)
	case s == nil:
		return b.fail("SideOutput(%q, nil)", side)
	case b.sides[side] != nil:
		return b.fail("SideOutput(%q) called twice", side)
	}
	b.sides[side] = s
	return b
}

// Checkpoints makes the job take a checkpoint every interval and keep it in
// store, from which the next run resumes. Without a store, checkpoints still
// commit the sinks but nothing is kept: a restart starts over.
func (b *Builder) Checkpoints(store CheckpointStore, interval time.Duration) *Builder {
	if interval <= 0 {
		return b.fail("checkpoint interval %v: want > 0", interval)
	}
	b.store, b.interval = store, interval
	return b
}

var jobName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// Build checks the declaration against the schemas each stage produces and
// returns the job, or every mistake it found, before any record is read.
func (b *Builder) Build(opts ...Option) (*Job, error) {
	if !jobName.MatchString(b.name) {
		b.fail("bad job name: want letters, digits, '-', '_' or '.', at most 128")
	}
	if b.src == nil {
		b.fail("no source: call From")
	}
	if b.sink == nil {
		b.fail("no sink: call To")
	}
	if len(b.errs) > 0 {
		return nil, errors.Join(b.errs...)
	}
	j := &Job{
		name:     b.name,
		src:      b.src,
		bound:    b.bound.Milliseconds(),
		maxAhead: b.maxAhead.Milliseconds(),
		store:    b.store,
		interval: b.interval,
		sink:     b.sink,
		sides:    b.sides,
		mem:      memory.DefaultAllocator,
		logger:   slog.New(slog.DiscardHandler),
		metrics:  nopMetrics{},
		queue:    8,
		parallel: runtime.GOMAXPROCS(0),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	for _, o := range opts {
		o(j)
	}

	built := false
	defer func() { // operators made before a later mistake are released
		if !built {
			j.closeOperators() //nolint:errcheck // the build error is the one to report
		}
	}()
	fp := sha256.New()
	fmt.Fprintf(fp, "job=%s\nsource=%s\n", b.name, b.src.Name())
	b.emitted = map[Side]emittedSide{}
	schema := RawSchema
	var err error
	if j.shardOps, schema, err = b.bind("shard", b.shardStages, schema, fp); err != nil {
		return nil, err
	}

	j.timeCol = -1
	if b.eventTime != "" {
		idx := schema.FieldIndices(b.eventTime)
		if len(idx) != 1 {
			return nil, fmt.Errorf("pipeline: job %q: Watermark: column %q not in schema (have: %s)", b.name, b.eventTime, fieldNames(schema))
		}
		if schema.Field(idx[0]).Type.ID() != arrow.TIMESTAMP {
			return nil, fmt.Errorf("pipeline: job %q: Watermark: column %q is %s, want a timestamp", b.name, b.eventTime, schema.Field(idx[0]).Type)
		}
		j.timeCol = idx[0]
		fmt.Fprintf(fp, "watermark=%s-%d\n", b.eventTime, j.bound)
		if j.maxAhead > 0 {
			fmt.Fprintf(fp, "max_ahead=%d\n", j.maxAhead)
		}
	}

	switch {
	case b.window != nil && b.eventTime == "":
		return nil, fmt.Errorf("pipeline: job %q: Window needs event time: call Watermark before it", b.name)
	case b.window == nil && len(b.keys) > 0:
		return nil, fmt.Errorf("pipeline: job %q: KeyBy(%s) without a Window", b.name, strings.Join(b.keys, ", "))
	case b.window != nil:
		stage, err := b.window.KeyedStage(slices.Clone(b.keys), b.eventTime)
		if err != nil {
			return nil, fmt.Errorf("pipeline: job %q: Window: %w", b.name, err)
		}
		out, newOp, err := stage.Bind(schema)
		if err != nil {
			return nil, fmt.Errorf("pipeline: job %q: %s: %w", b.name, stage.Name(), err)
		}
		if err := j.bindKeyed(stage.Name(), schema, b.keys, newOp); err != nil {
			return nil, err
		}
		fmt.Fprintf(fp, "keyed=%s -> %s\n", stage.Name(), out)
		if err := b.noteSides(stage); err != nil {
			return nil, err
		}
		schema = out
	}

	post, schema, err := b.bind("post", b.postStages, schema, fp)
	if err != nil {
		return nil, err
	}
	j.postOps = make([][]Operator, len(j.keyed))
	for i := range j.keyed {
		for _, p := range post {
			op, err := p.newOp(OperatorEnv{Mem: j.mem, Source: b.src.Name()})
			if err != nil {
				return nil, fmt.Errorf("pipeline: job %q: %s: %w", b.name, p.name, err)
			}
			if _, ok := op.(LocalSnapshotter); ok {
				closeOperators(op) //nolint:errcheck // the placement error is the one to report
				return nil, fmt.Errorf("pipeline: job %q: %s keeps state per shard: Apply it before KeyBy and Window", b.name, p.name)
			}
			j.postOps[i] = append(j.postOps[i], op)
		}
	}

	if err := b.sink.Bind(schema); err != nil {
		return nil, fmt.Errorf("pipeline: job %q: sink %s: %w", b.name, b.sink.Name(), err)
	}
	fmt.Fprintf(fp, "sink=%s\n", b.sink.Name())
	if s := b.sides[DeadLetterSide]; s != nil {
		if err := s.Bind(DeadLetterSchema); err != nil {
			return nil, fmt.Errorf("pipeline: job %q: dead-letter sink %s: %w", b.name, s.Name(), err)
		}
		fmt.Fprintf(fp, "side %s=%s\n", DeadLetterSide, s.Name())
	}
	if err := b.bindSides(fp); err != nil {
		return nil, err
	}
	if err := uniqueSinkNames(j.allSinks()); err != nil {
		return nil, fmt.Errorf("pipeline: job %q: %w", b.name, err)
	}
	j.outSchema = schema
	j.fingerprint = hex.EncodeToString(fp.Sum(nil)[:12])
	built = true
	return j, nil
}

// boundStage is a stage checked against its input, ready to make operators.
type boundStage struct {
	name  string
	newOp func(OperatorEnv) (Operator, error)
}

func (b *Builder) bind(where string, stages []Stage, in *arrow.Schema, fp interface{ Write([]byte) (int, error) }) ([]boundStage, *arrow.Schema, error) {
	var bound []boundStage
	for _, s := range stages {
		out, newOp, err := s.Bind(in)
		if err != nil {
			return nil, nil, fmt.Errorf("pipeline: job %q: %s: %w", b.name, s.Name(), err)
		}
		fmt.Fprintf(fp, "%s=%s -> %s\n", where, s.Name(), out)
		if err := b.noteSides(s); err != nil {
			return nil, nil, err
		}
		bound = append(bound, boundStage{name: s.Name(), newOp: newOp})
		in = out
	}
	return bound, in, nil
}

// emittedSide is a side that a stage emits, with the schema of its batches.
type emittedSide struct {
	stage  string
	schema *arrow.Schema
}

// noteSides records the sides a bound stage emits.
func (b *Builder) noteSides(s Stage) error {
	so, ok := s.(SideOutputter)
	if !ok {
		return nil
	}
	for side, schema := range so.SideOutputs() {
		switch prev, dup := b.emitted[side]; {
		case side == MainSide || side == DeadLetterSide:
			return fmt.Errorf("pipeline: job %q: %s: emits side %q, which is reserved", b.name, s.Name(), side)
		case dup:
			return fmt.Errorf("pipeline: job %q: %s and %s both emit side %q", b.name, prev.stage, s.Name(), side)
		}
		b.emitted[side] = emittedSide{stage: s.Name(), schema: schema}
	}
	return nil
}

// bindSides binds the sink of every side a stage emits to the side's schema.
func (b *Builder) bindSides(fp interface{ Write([]byte) (int, error) }) error {
	for _, side := range slices.Sorted(maps.Keys(b.sides)) {
		if side == DeadLetterSide {
			continue
		}
		if _, ok := b.emitted[side]; !ok {
			return fmt.Errorf("pipeline: job %q: SideOutput(%q): no stage of the job emits that side", b.name, side)
		}
	}
	for _, side := range slices.Sorted(maps.Keys(b.emitted)) {
		e, s := b.emitted[side], b.sides[side]
		if s == nil {
			return fmt.Errorf("pipeline: job %q: %s emits side %q: give it a sink with SideOutput(%q, sink)", b.name, e.stage, side, side)
		}
		if err := s.Bind(e.schema); err != nil {
			return fmt.Errorf("pipeline: job %q: side %q sink %s: %w", b.name, side, s.Name(), err)
		}
		fmt.Fprintf(fp, "side %s=%s %s\n", side, s.Name(), e.schema)
	}
	return nil
}

func fieldNames(s *arrow.Schema) string {
	names := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}

func uniqueSinkNames(sinks []Sink) error {
	seen := map[string]bool{}
	for _, s := range sinks {
		if seen[s.Name()] {
			return fmt.Errorf("two sinks named %q", s.Name())
		}
		seen[s.Name()] = true
	}
	return nil
}

// bindKeyed makes the instances of the keyed stage: one per partition of the
// keys when the operator can run partitioned, else one.
func (j *Job) bindKeyed(name string, in *arrow.Schema, keys []string, newOp func(OperatorEnv) (Operator, error)) error {
	cols := make([]int, len(keys))
	for i, k := range keys {
		idx := in.FieldIndices(k)
		if len(idx) != 1 {
			return fmt.Errorf("pipeline: job %q: KeyBy: column %q not in schema (have: %s)", j.name, k, fieldNames(in))
		}
		cols[i] = idx[0]
	}
	n := j.parallel
	if len(cols) == 0 || checkPartitionable(in, cols) != nil {
		n = 1 // one group per window, or keys that KeyHash does not cover
	}
	group := &OperatorGroup{}
	for i := 0; i < n; i++ {
		op, err := newOp(OperatorEnv{Mem: j.mem, Source: j.src.Name(), Partition: i, Partitions: n, Group: group, Bound: j.bound, MaxAhead: j.maxAhead, State: j.state})
		if err != nil {
			return fmt.Errorf("pipeline: job %q: %s: %w", j.name, name, err)
		}
		keyed, ok := op.(KeyedOperator)
		if !ok {
			closeOperators(op) //nolint:errcheck // the type error is the one to report
			return fmt.Errorf("pipeline: job %q: %s: operator %T is not a KeyedOperator", j.name, name, op)
		}
		if _, ok := op.(PartitionedOperator); !ok && n > 1 {
			closeOperators(op) //nolint:errcheck // remade as the only instance
			n, i, group = 1, -1, &OperatorGroup{}
			continue
		}
		j.keyed = append(j.keyed, keyed)
	}
	j.keyedName, j.keyCols = name, cols
	return nil
}
