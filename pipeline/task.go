package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// trigger asks a shard task to emit the barrier of checkpoint id at its next
// batch boundary, then to wait until release is closed (the checkpoint's
// snapshot is taken), or, when stop is set, to end.
type trigger struct {
	id      uint64
	release <-chan struct{}
	stop    bool
}

// keyedBatch is a main-side batch with its rows split by the partitions of
// the keyed stage: parts[i] are the rows for instance i.
type keyedBatch struct {
	b     *Batch
	parts [][]int32
}

// shardIdle tells the coordinator that a shard became idle or active again.
type shardIdle struct {
	Shard string
	Idle  bool
}

// task reads one shard and runs the shard-local operators fused, in one
// goroutine. Its states: reading; at a barrier (waiting for release); ended.
type task struct {
	shard    Shard
	state    ShardState
	src      Source
	ops      []Operator
	opNames  []string // the stages of ops, for their counters
	timeCol  int      // index of the event-time column in the operators' output, -1 if none
	maxAhead int64    // Builder.MaxAhead in ms, 0 for none
	out      chan<- any
	triggers chan trigger
	progress *shardProgress
	metrics  Metrics
	part     *partitioner // splits the main output by the keys' partitions; nil with one
	// seed holds the Local states of the shard's parents, for a child shard
	// that has none of its own (see LocalSnapshotter).
	seed  []map[string][]byte
	local []localOp // the operators of ops that keep state, set by run

	// In a job whose checkpoints the data cuts (cuts.go): the stream time
	// between boundaries in ms (0 otherwise), the boundary of the last
	// barrier emitted or taken, and the checkpoints' releases.
	step int64
	cut  uint64
	gate *releases

	outs []*Batch // what one pass of the operator chain emitted
	err  error    // first error of the chain's emit
}

// shardProgress is what the job's Stats show of a shard, written by its task.
type shardProgress struct {
	records  atomic.Int64
	position atomic.Value // string
	finished atomic.Bool
	idle     atomic.Bool

	mu       sync.Mutex
	counters map[string]map[string]int64 // by stage: the counters of the shard's operators that report them
}

// setCounters publishes the counters of the task's operators.
func (p *shardProgress) setCounters(names []string, ops []Operator) {
	var m map[string]map[string]int64
	for i, op := range ops {
		if cr, ok := op.(CounterReporter); ok {
			if m == nil {
				m = make(map[string]map[string]int64, len(ops))
			}
			m[names[i]] = cr.Counters()
		}
	}
	if m == nil {
		return
	}
	p.mu.Lock()
	p.counters = m
	p.mu.Unlock()
}

// addCounters adds the shard's operator counters into sum, by stage.
func (p *shardProgress) addCounters(sum map[string]map[string]int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for stage, c := range p.counters {
		if sum[stage] == nil {
			sum[stage] = make(map[string]int64, len(c))
		}
		for k, v := range c {
			sum[stage][k] += v
		}
	}
}

func (t *task) run(ctx context.Context) error {
	defer closeOperators(t.ops...) //nolint:errcheck // a failed release loses nothing
	t.local = localOps(t.ops, t.opNames)
	if err := t.restoreLocal(); err != nil {
		return fmt.Errorf("shard %s: restore: %w", t.shard.ID, err)
	}
	r, err := t.src.OpenShard(ctx, t.shard, t.state.Position)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("shard %s: open: %w", t.shard.ID, err)
	}
	// The reader goroutine blocks in Read; this one stays free to inject
	// barriers at once, whatever the source's polling interval.
	reads := make(chan readResult, 1)
	readCtx, stopReading := context.WithCancel(ctx)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		readLoop(readCtx, r, reads)
	}()
	defer func() {
		stopReading()
		<-readerDone
		close(reads)
		for res := range reads {
			res.batch.Release()
		}
		r.Close()
	}()

	chain := t.chain()
	for {
		select {
		case tr := <-t.triggers:
			if err := t.snapshotLocal(); err != nil {
				return fmt.Errorf("shard %s: checkpoint %d: %w", t.shard.ID, tr.id, err)
			}
			if !t.send(ctx, Barrier{ID: tr.id, Shard: t.shard.ID, State: t.state}) {
				return nil
			}
			if tr.stop {
				t.send(ctx, shardEnd{Shard: t.shard.ID, State: t.state})
				return nil
			}
			select {
			case <-tr.release:
			case <-ctx.Done():
				return nil
			}
		case res := <-reads:
			switch {
			case errors.Is(res.err, ErrShardEnd):
				if err := t.snapshotLocal(); err != nil {
					return fmt.Errorf("shard %s: end: %w", t.shard.ID, err)
				}
				t.state.Finished = true
				t.progress.finished.Store(true)
				t.send(ctx, shardEnd{Shard: t.shard.ID, State: t.state})
				return nil
			case errors.Is(res.err, ErrBoundReached):
				if err := t.snapshotLocal(); err != nil {
					return fmt.Errorf("shard %s: end: %w", t.shard.ID, err)
				}
				t.progress.finished.Store(true)
				t.send(ctx, shardEnd{Shard: t.shard.ID, State: t.state, Bound: true})
				return nil
			case res.err != nil:
				if ctx.Err() != nil {
					return nil
				}
				if ee := (*ExpiredError)(nil); errors.As(res.err, &ee) && t.state.Arrival > 0 {
					ee.Since = time.UnixMilli(t.state.Arrival)
				}
				return fmt.Errorf("shard %s: read after %s: %w", t.shard.ID, t.state.Position, res.err)
			case res.batch == nil: // the shard became idle or active
				t.progress.idle.Store(res.idle)
				if !t.send(ctx, shardIdle{Shard: t.shard.ID, Idle: res.idle}) {
					return nil
				}
			case t.step > 0:
				sent, err := t.processCut(ctx, chain, res.batch)
				if err != nil || !sent {
					return err
				}
			default:
				sent, err := t.process(ctx, chain, res.batch)
				if err != nil || !sent {
					return err
				}
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// localOp is a shard-local operator that keeps state, with the name of its
// state in ShardState.Local.
type localOp struct {
	op   LocalSnapshotter
	name string
}

// localOps returns the operators of ops that keep state. Each is named after
// its stage; a stage name that comes again gets "#2", "#3", ... so that two
// equal stages keep their states apart.
func localOps(ops []Operator, names []string) []localOp {
	var out []localOp
	seen := map[string]int{}
	for i, op := range ops {
		ls, ok := op.(LocalSnapshotter)
		if !ok {
			continue
		}
		name := names[i]
		if seen[name]++; seen[name] > 1 {
			name = fmt.Sprintf("%s#%d", name, seen[name])
		}
		out = append(out, localOp{op: ls, name: name})
	}
	return out
}

// restoreLocal gives the stateful operators their state: the shard's own when
// it has some, else (a child shard that has not run) its parents'.
func (t *task) restoreLocal() error {
	for _, l := range t.local {
		var states [][]byte
		if own, ok := t.state.Local[l.name]; ok {
			states = [][]byte{own}
		} else if t.state.Local == nil {
			for _, parent := range t.seed {
				if st, ok := parent[l.name]; ok {
					states = append(states, st)
				}
			}
		}
		if len(states) == 0 {
			continue
		}
		if err := l.op.RestoreLocal(states); err != nil {
			return fmt.Errorf("%s: %w", l.name, err)
		}
	}
	t.seed = nil
	return nil
}

// snapshotLocal records the stateful operators' state in t.state, in a new
// map: the one sent before belongs to the coordinator.
func (t *task) snapshotLocal() error {
	if len(t.local) == 0 {
		return nil
	}
	m := make(map[string][]byte, len(t.local))
	for _, l := range t.local {
		b, err := l.op.SnapshotLocal()
		if err != nil {
			return fmt.Errorf("snapshot %s: %w", l.name, err)
		}
		m[l.name] = b
	}
	t.state.Local = m
	return nil
}

// readResult is what the reader goroutine hands the task: a batch, an error,
// or (batch and error nil) a change of the shard's idleness.
type readResult struct {
	batch *Batch
	err   error
	idle  bool
}

// readLoop reads r until an error or the end of ctx. It reports a change of
// idleness (IdleReporter) when Read returns no batch.
func readLoop(ctx context.Context, r ShardReader, out chan<- readResult) {
	idler, _ := r.(IdleReporter)
	idle := false
	for {
		b, err := r.Read(ctx)
		var res readResult
		switch {
		case err != nil:
			b.Release() // a reader should not return both; if it does, the batch is dropped with the error
			res = readResult{err: err}
		case b == nil:
			if idler == nil || idler.Idle() == idle {
				if ctx.Err() != nil {
					return
				}
				continue
			}
			idle = !idle
			res = readResult{idle: idle}
		default:
			if idle { // records again: active first, then the batch
				idle = false
				select {
				case out <- readResult{idle: false}:
				case <-ctx.Done():
					b.Release()
					return
				}
			}
			res = readResult{batch: b}
		}
		select {
		case out <- res:
		case <-ctx.Done():
			res.batch.Release()
			return
		}
		if err != nil {
			return
		}
	}
}

// process runs one raw batch through the operator chain and sends what comes
// out; sent is false when the job is ending.
func (t *task) process(ctx context.Context, chain func(context.Context, *Batch) error, b *Batch) (sent bool, err error) {
	last, n, arrival, latest := b.Last, b.Len(), lastArrival(b), maxArrival(b) // b is the chain's once passed to it
	t.metrics.ShardRead(t.shard.ID, n, rawBytes(b))
	if err := chain(ctx, b); err != nil {
		return false, fmt.Errorf("shard %s: batch ..%s: %w", t.shard.ID, last, err)
	}
	for i, ob := range t.outs {
		if ob.Side == MainSide && t.timeCol >= 0 {
			limit := MaxTime // event times above it are wild: they move no watermark
			if t.maxAhead > 0 && latest > 0 {
				limit = latest + t.maxAhead
			}
			ob.MinTime, ob.MaxTime = timeBounds(ob.Rec.Column(t.timeCol), limit)
			ob.Before, ob.Arrival = t.state.MaxEventTime, latest
			if ob.Len() > 0 && ob.MaxTime > t.state.MaxEventTime {
				t.state.MaxEventTime = ob.MaxTime
			}
		}
		var el any = ob
		if t.part != nil && ob.Side == MainSide {
			el = keyedBatch{b: ob, parts: t.part.split(ob.Rec)}
		}
		if !t.send(ctx, el) {
			for _, rest := range t.outs[i+1:] {
				rest.Release()
			}
			t.outs = t.outs[:0]
			return false, nil
		}
	}
	t.outs = t.outs[:0]
	t.state.Position = last
	if arrival > 0 {
		t.state.Arrival = arrival
	}
	t.progress.records.Add(int64(n))
	t.progress.position.Store(last.String())
	t.progress.setCounters(t.opNames, t.ops)
	return true, nil
}

// chain returns the fused operator chain: operator i emits into operator i+1,
// the last one into t.outs; batches on a side skip the remaining operators.
func (t *task) chain() func(context.Context, *Batch) error {
	collect := func(b *Batch) {
		if t.err != nil || b.Len() == 0 {
			b.Release()
			return
		}
		t.outs = append(t.outs, b)
	}
	var ctx context.Context // the context of the batch being processed
	next := collect
	for i := len(t.ops) - 1; i >= 0; i-- {
		op, downstream := t.ops[i], next
		next = func(b *Batch) {
			if t.err != nil {
				b.Release()
				return
			}
			if b.Side != MainSide {
				collect(b)
				return
			}
			if err := op.Process(ctx, b, downstream); err != nil && t.err == nil {
				t.err = err
			}
		}
	}
	return func(c context.Context, b *Batch) error {
		ctx, t.err = c, nil
		next(b)
		if t.err != nil {
			for _, ob := range t.outs {
				ob.Release()
			}
			t.outs = t.outs[:0]
		}
		return t.err
	}
}

func (t *task) send(ctx context.Context, el any) bool {
	select {
	case t.out <- el:
		return true
	case <-ctx.Done():
		releaseElement(el)
		return false
	}
}

// timeBounds returns the lowest and highest non-null value of a timestamp
// column in milliseconds, leaving out values above limit (ms; MaxTime for
// none): wild ones (Builder.MaxAhead). 0, 0 when no value is left.
func timeBounds(col arrow.Array, limit int64) (lo, hi int64) {
	ts, ok := col.(*array.Timestamp)
	if !ok || ts.Len() == ts.NullN() {
		return 0, 0
	}
	unit := ts.DataType().(*arrow.TimestampType).Unit
	lo, hi = MaxTime, MinTime
	vals := ts.TimestampValues()
	hasNulls := ts.NullN() > 0
	if limit == MaxTime {
		for i, v := range vals {
			if hasNulls && ts.IsNull(i) {
				continue
			}
			lo, hi = min(lo, int64(v)), max(hi, int64(v))
		}
		return toMillis(lo, unit), toMillis(hi, unit)
	}
	for i, v := range vals {
		if hasNulls && ts.IsNull(i) {
			continue
		}
		if ms := toMillis(int64(v), unit); ms <= limit {
			lo, hi = min(lo, ms), max(hi, ms)
		}
	}
	if lo > hi { // every row was wild
		return 0, 0
	}
	return lo, hi
}

func toMillis(v int64, unit arrow.TimeUnit) int64 {
	switch unit {
	case arrow.Second:
		return v * 1000
	case arrow.Microsecond:
		return v / 1000
	case arrow.Nanosecond:
		return v / 1_000_000
	default:
		return v
	}
}

// rawBytes is the payload size of a raw source batch, 0 for other schemas.
func rawBytes(b *Batch) int {
	if b.Rec == nil || b.Rec.NumCols() == 0 {
		return 0
	}
	if data, ok := b.Rec.Column(0).(*array.Binary); ok {
		return len(data.ValueBytes())
	}
	return 0
}

// releaseElement releases the batch an element of the coordinator's queue holds.
func releaseElement(el any) {
	switch el := el.(type) {
	case *Batch:
		el.Release()
	case keyedBatch:
		el.b.Release()
	}
}

// maxArrival is the latest time at which the source received a record of
// the raw batch b, in Unix milliseconds; 0 if it does not say.
func maxArrival(b *Batch) int64 {
	if b.Rec.NumRows() == 0 || b.Rec.NumCols() <= rawArrivalCol || b.Rec.Schema().Field(rawArrivalCol).Name != RawArrival {
		return 0
	}
	a, ok := b.Rec.Column(rawArrivalCol).(*array.Timestamp)
	if !ok {
		return 0
	}
	var hi int64
	for i, v := range a.TimestampValues() {
		if a.IsValid(i) {
			hi = max(hi, int64(v))
		}
	}
	return hi
}

// lastArrival is when the source received the last record of the raw batch b
// (RawArrival, Unix milliseconds), 0 if it does not say.
func lastArrival(b *Batch) int64 {
	n := b.Rec.NumRows()
	if n == 0 || b.Rec.NumCols() <= rawArrivalCol || b.Rec.Schema().Field(rawArrivalCol).Name != RawArrival {
		return 0
	}
	a, ok := b.Rec.Column(rawArrivalCol).(*array.Timestamp)
	if !ok || a.IsNull(int(n-1)) {
		return 0
	}
	return int64(a.Value(int(n - 1)))
}
