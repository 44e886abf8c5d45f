package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// ErrIncompatibleCheckpoint is returned by Run when the latest checkpoint was
// taken by a job of a different shape (other stages, schemas or sinks).
var ErrIncompatibleCheckpoint = errors.New("pipeline: checkpoint belongs to a job of another shape")

// Job is a built job, ready to Run once.
type Job struct {
	name        string
	fingerprint string
	src         Source
	shardOps    []boundStage
	timeCol     int             // event-time column after the shard stages, -1 without Watermark
	bound       int64           // bounded out-of-orderness, ms
	maxAhead    int64           // MaxAhead, ms; 0 for none
	keyed       []KeyedOperator // the keyed stage's instance of each partition of the keys
	keyedName   string
	keyCols     []int        // the key columns in the keyed stage's input
	postOps     [][]Operator // per partition: its instances of the stages after the keyed one
	outSchema   *arrow.Schema
	sink        Sink
	sides       map[Side]Sink
	store       CheckpointStore
	interval    time.Duration
	overwrite   bool  // WithOverwrite
	replay      bool  // WithReplay
	replayStep  int64 // WithReplayStep, ms; 0: clock-driven checkpoints

	mem      memory.Allocator
	logger   *slog.Logger
	metrics  Metrics
	queue    int
	parallel int // WithParallelism

	state StateConfig // WithStateLimit, WithStateSpill

	started  atomic.Bool
	stop     chan struct{} // closed by Shutdown
	stopOnce sync.Once
	done     chan struct{} // closed when Run returns

	statsMu sync.Mutex
	stats   Stats
	shards  map[string]*shardProgress // guarded by statsMu
}

// Name is the job's name.
func (j *Job) Name() string { return j.name }

// Fingerprint identifies the job's shape in its checkpoints.
func (j *Job) Fingerprint() string { return j.fingerprint }

// OutputSchema is the schema of the rows the job writes to its main sink.
func (j *Job) OutputSchema() *arrow.Schema { return j.outSchema }

func (j *Job) allSinks() []Sink {
	sinks := []Sink{j.sink}
	for _, side := range slices.Sorted(maps.Keys(j.sides)) {
		sinks = append(sinks, j.sides[side])
	}
	return sinks
}

// Stats is a snapshot of a job's progress.
type Stats struct {
	Started     time.Time
	ResumedFrom uint64 // checkpoint the run resumed from, 0 when it started fresh
	RecordsIn   int64  // source records read in this run
	RowsOut     int64  // rows handed to the main sink in this run
	DeadLetters int64  // records sent to the dead-letter output in this run
	// Counters are the keyed operator's counters. Its counts (windows_fired,
	// late_rows, ...) are kept in checkpoints and so count since the job
	// first started; CountersAtStart holds them as this run restored them.
	Counters        map[string]int64
	CountersAtStart map[string]int64
	// Components holds, by name, the counters of every shard-local stage
	// (summed over the shards, counting this run) and every sink (counting
	// this run) that implements CounterReporter.
	Components     map[string]map[string]int64
	Checkpoints    int64 // checkpoints completed in this run
	LastCheckpoint uint64
	Watermark      int64
	Finished       bool // every shard of a bounded source has been read and committed
	Shards         []ShardProgress
	// Trouble is, by shard, a failure the source is retrying now (see
	// TroubleReporter); nil when every shard reads normally.
	Trouble map[string]string
}

// ShardProgress is how far a shard has been read.
type ShardProgress struct {
	Shard    string
	Records  int64  // records read in this run
	Position string // last position read
	Finished bool
	Idle     bool
}

// Stats returns a snapshot of the job's progress; safe to call while it runs.
func (j *Job) Stats() Stats {
	var trouble map[string]string
	if tr, ok := j.src.(TroubleReporter); ok {
		if t := tr.Trouble(); len(t) > 0 {
			trouble = t
		}
	}
	j.statsMu.Lock()
	defer j.statsMu.Unlock()
	s := j.stats
	s.Counters = maps.Clone(j.stats.Counters)
	s.CountersAtStart = maps.Clone(j.stats.CountersAtStart)
	s.Components = make(map[string]map[string]int64, len(j.stats.Components))
	for name, c := range j.stats.Components {
		s.Components[name] = maps.Clone(c)
	}
	s.RecordsIn = 0
	for _, id := range slices.Sorted(maps.Keys(j.shards)) {
		p := j.shards[id]
		pos, _ := p.position.Load().(string)
		sp := ShardProgress{Shard: id, Records: p.records.Load(), Position: pos, Finished: p.finished.Load(), Idle: p.idle.Load()}
		s.RecordsIn += sp.Records
		s.Shards = append(s.Shards, sp)
		p.addCounters(s.Components)
	}
	s.Trouble = trouble
	return s
}

func (j *Job) updateStats(f func(*Stats)) {
	j.statsMu.Lock()
	f(&j.stats)
	j.statsMu.Unlock()
}

func (j *Job) progress(shard string, st ShardState) *shardProgress {
	j.statsMu.Lock()
	defer j.statsMu.Unlock()
	p, ok := j.shards[shard]
	if !ok {
		p = &shardProgress{}
		p.position.Store(st.Position.String())
		p.finished.Store(st.Finished)
		j.shards[shard] = p
	}
	return p
}

// Run runs the job until its bounded source has been read, every window has
// fired and the last checkpoint has committed (it returns nil); until Shutdown
// took a final checkpoint (nil); or until an error or the cancellation of ctx
// (the error; like a crash, what the last checkpoint holds is safe and the
// next run resumes from it). Run resumes from the latest checkpoint in the
// job's store. A Job runs once.
func (j *Job) Run(ctx context.Context) (err error) {
	if !j.started.CompareAndSwap(false, true) {
		return fmt.Errorf("pipeline: job %q: Run called twice", j.name)
	}
	j.updateStats(func(s *Stats) {
		*s = Stats{Started: time.Now(), Watermark: MinTime, Counters: map[string]int64{}, Components: map[string]map[string]int64{}}
		j.shards = map[string]*shardProgress{}
	})
	defer close(j.done)
	defer func() {
		if cerr := j.closeOperators(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("pipeline: job %q: close operators: %w", j.name, cerr))
		}
		for _, s := range j.allSinks() {
			if cerr := s.Close(context.WithoutCancel(ctx)); cerr != nil {
				err = errors.Join(err, fmt.Errorf("pipeline: job %q: close sink %s: %w", j.name, s.Name(), cerr))
			}
		}
	}()

	c, err := newCoordinator(ctx, j)
	if err != nil {
		return err
	}
	return c.runAll(ctx)
}

// Shutdown asks the job to take a final checkpoint and return from Run, and
// waits until Run has returned or ctx ends. Called before Run, it makes Run
// stop at its first checkpoint. Open windows stay in the checkpoint; the next run
// continues them.
func (j *Job) Shutdown(ctx context.Context) error {
	j.stopOnce.Do(func() { close(j.stop) })
	select {
	case <-j.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// closeOperators closes the keyed stage's instances and the stages after it.
func (j *Job) closeOperators() error {
	var errs []error
	for _, op := range j.keyed {
		errs = append(errs, closeOperators(op))
	}
	for _, ops := range j.postOps {
		errs = append(errs, closeOperators(ops...))
	}
	return errors.Join(errs...)
}
