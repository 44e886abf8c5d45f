package pipeline

import (
	"context"
	"errors"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Emit hands a batch to the next stage, with its Arrow reference.
type Emit func(*Batch)

// Operator transforms batches. Process owns b: it releases b, or passes it on
// through emit. An operator instance is used by one goroutine at a time.
//
// A batch on a side other than MainSide never reaches an operator: the runtime
// routes it to that side's sink.
//
// An operator that holds resources (Arrow builders, files) implements
// io.Closer; the runtime closes it once its shard task or job has ended.
//
// Only a KeyedOperator and a shard-local LocalSnapshotter have state in
// checkpoints. Other shard-local operators (before the window) and the stages
// after it must not hold rows from one batch to the next: what they keep
// would be lost at a restart.
type Operator interface {
	Process(ctx context.Context, b *Batch, emit Emit) error
}

// KeyedOperator runs where the shards of a job meet: it sees the batches of
// every shard, the job's watermark, and takes part in checkpoints. Windowed
// aggregations are keyed operators.
type KeyedOperator interface {
	Operator
	// OnWatermark tells the operator that no row with event time below wm will
	// arrive any more (wm = MaxTime at the end of a bounded input); it emits what
	// that completes.
	OnWatermark(ctx context.Context, wm int64, emit Emit) error
	// Snapshot returns the operator's state; called when checkpoint barriers have
	// arrived from every shard, so the state reflects exactly the rows before them.
	Snapshot() ([]byte, error)
	// Restore replaces the operator's state with one returned by Snapshot.
	Restore(state []byte) error
}

// SnapshotPreparer is implemented by a KeyedOperator that holds back output
// between checkpoints (an online feature row per entity instead of one per
// batch): PrepareSnapshot is called right before each Snapshot, when the
// checkpoint's barriers have arrived, and what it emits is part of that
// checkpoint, as with Flink's prepareSnapshotPreBarrier.
type SnapshotPreparer interface {
	PrepareSnapshot(ctx context.Context, emit Emit) error
}

// ShardSnapshotter is implemented by a KeyedOperator whose state is kept per
// source shard, so that one shard's state can be saved, loaded and moved
// alone (with the shard's lease, across workers). The runtime prefers it to
// Snapshot and Restore: each instance's common part goes to the checkpoint's
// Operators, each shard's parts to that shard's entry (ShardState.Keyed).
type ShardSnapshotter interface {
	// SnapshotShards returns the operator's state as a part common to every
	// shard (counters, what has fired) and one self-contained part per shard
	// that holds state; called where Snapshot would be.
	SnapshotShards() (common []byte, shards map[string][]byte, err error)
	// RestoreShards replaces the operator's state with what commons and
	// shards hold for its partition (see PartitionedOperator): commons are
	// the common parts of every instance of the run that checkpointed, and
	// shards[s] the parts of shard s that its instances returned. Any subset
	// of the shards may be given, one alone included. A common part may also
	// be what Snapshot returned (a checkpoint written before state was per
	// shard), with no shards.
	RestoreShards(commons [][]byte, shards map[string][][]byte) error
}

// LocalSnapshotter is implemented by a shard-local operator (a stage before
// the job's key) that keeps state from one batch to the next, such as the
// keys a deduplication has seen. Its shard's task snapshots it between two
// batches, when it emits a checkpoint's barrier and when the shard ends, into
// the shard's entry (ShardState.Local, by stage name), and restores it before
// it reads the shard again, so the state moves with the shard alone.
type LocalSnapshotter interface {
	// SnapshotLocal returns the operator's state; called from the goroutine
	// that runs the operator. The result must not alias what the operator
	// goes on changing.
	SnapshotLocal() ([]byte, error)
	// RestoreLocal replaces the operator's state, before its first batch,
	// with the union of states that SnapshotLocal returned: the shard's own
	// (one) when the shard is resumed, or, for a child shard of a reshard
	// that has none of its own yet, its parents' final states (one per
	// parent that has one), so that what straddles the split is still seen.
	// It is not called when there is nothing to restore.
	RestoreLocal(states [][]byte) error
}

// Stage is one step of a job as the DSL declares it, before it runs.
type Stage interface {
	// Name describes the stage in errors, logs and the job's fingerprint, e.g.
	// `filter(event_type = "purchase")`. Two stages that would process data
	// differently must have different names.
	Name() string
	// Bind checks the stage against the schema of its input and returns the
	// schema of its output and a constructor of operator instances. It is called
	// once, when the job is built, so that a job that cannot work (an unknown
	// column, a wrong type) fails before it reads any record. The constructor is
	// called once per shard task for the stages before the job's key, and once
	// per job for a keyed stage, whose operator must be a KeyedOperator.
	Bind(in *arrow.Schema) (out *arrow.Schema, newOp func(env OperatorEnv) (Operator, error), err error)
}

// SideOutputter is implemented by a Stage whose operators emit batches on
// sides of their own besides the main output, as Flink's side outputs: each
// side's batches have the schema given here, known once Bind has run, and go
// to the sink the job gives that side (Builder.SideOutput). A job fails to
// build when a side has no sink, instead of losing its rows.
type SideOutputter interface {
	SideOutputs() map[Side]*arrow.Schema
}

// OperatorEnv is what an operator instance is created with.
type OperatorEnv struct {
	// Mem allocates the operator's Arrow memory.
	Mem memory.Allocator
	// Source is the job's source name (Source.Name), for dead letters.
	Source string
	// Shard is the shard a shard-local instance serves; "" for a keyed operator.
	Shard string
	// Partition and Partitions place an instance of a keyed stage among the
	// instances the job runs side by side (see PartitionedOperator): it gets
	// the rows whose keys land in partition Partition of Partitions. 0 of 1
	// for the only instance, and for other stages.
	Partition, Partitions int
	// Group is shared by the instances of a keyed stage; nil for other stages.
	Group *OperatorGroup
	// Bound is the job's bounded out-of-orderness in milliseconds
	// (Builder.Watermark), for a keyed stage; 0 for other stages. A shard's
	// own watermark is its highest event time so far (Batch.Before, then the
	// batch's rows) minus Bound.
	Bound int64
	// MaxAhead is the job's guard against wild clocks in milliseconds
	// (Builder.MaxAhead), for a keyed stage; 0 for none. A row whose event
	// time is more than MaxAhead past its batch's Arrival is late.
	MaxAhead int64
	// State bounds the state of an instance of a keyed stage
	// (WithStateLimit, WithStateSpill); zero for other stages.
	State StateConfig
}

// CounterReporter is implemented by operators and sinks that count what the
// job's summary and metrics show, e.g. {"late_rows": 3, "windows_fired": 120}.
// Counters is called from the goroutine that runs the operator or sink.
type CounterReporter interface {
	Counters() map[string]int64
}

// WindowSpec describes a windowed computation (windows.Tumbling(...).Aggregate(...))
// before it knows the job's key and event-time columns; the DSL's Window step
// turns it into the job's keyed stage.
type WindowSpec interface {
	KeyedStage(keys []string, eventTime string) (Stage, error)
}

// closeOperators closes the operators that implement io.Closer.
func closeOperators(ops ...Operator) error {
	var errs []error
	for _, op := range ops {
		if c, ok := op.(io.Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}

// CloseOperators closes the operators that implement io.Closer, for code that
// drives operators outside a Job (such as the go-streams adapters).
func CloseOperators(ops ...Operator) error { return closeOperators(ops...) }
