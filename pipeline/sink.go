package pipeline

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
)

// Sink writes the batches of one output: the job's main output or a side such
// as the dead letters. A sink's methods are called by one goroutine at a
// time: while the job runs, by a goroutine of its own that the job feeds
// through a bounded queue (WithQueue), with checkpoints in band, so a slow
// sink holds up the job only once its queue is full, and never the others.
//
// A Sink that does not implement Committer writes at least once: what it wrote
// before a crash may be written again after recovery.
type Sink interface {
	// Name identifies the sink in checkpoints and logs; unique within a job.
	Name() string
	// Bind checks that the sink can store batches of schema; called once when the
	// job is built, before any record is read.
	Bind(schema *arrow.Schema) error
	// Write stages or writes b and releases it.
	Write(ctx context.Context, b *Batch) error
	// Close releases the sink's resources. Staged data that no completed
	// checkpoint owns is not made visible.
	Close(ctx context.Context) error
}

// Committer is implemented by sinks with two-phase commit, which makes their
// output exactly once.
type Committer interface {
	// PreCommit makes everything written since the previous checkpoint durable
	// but invisible (temporary files, an open multipart upload, a staged batch
	// of writes) and returns a small handle that describes it. It is called
	// once barriers of checkpoint id have reached the sink.
	PreCommit(ctx context.Context, id uint64) (handle []byte, err error)
	// Commit makes what the handle describes visible. It is called after
	// checkpoint id has been persisted, and again after a crash that came
	// between the two, so it must be idempotent.
	Commit(ctx context.Context, id uint64, handle []byte) error
	// Recover is called once before the job reads anything and before any
	// other method but Bind. It commits again the handle that the latest
	// completed checkpoint holds for this sink and discards whatever was
	// staged after it. It also checks that the output holds what the job's
	// checkpoints account for: committed output of the same job that another
	// run made, or that a checkpoint newer than r.ID made, is refused (unless
	// r.Overwrite), and so is committed output that has gone missing.
	Recover(ctx context.Context, r Recovery) error
}

// Recovery is what a Committer sink is told when the job starts.
type Recovery struct {
	// Job is the job's name.
	Job string
	// Run is the run id (Checkpoint.Run): the restored checkpoint's, or a new
	// one when the job starts without a checkpoint (one derived from the
	// checkpoint, the same at every restore, for a checkpoint written before
	// runs had ids). Everything the sink
	// commits from now on carries it in its name.
	Run string
	// Epoch is the fencing epoch of this process (StoreLock.Epoch); 0 for a
	// job without a checkpoint store.
	Epoch uint64
	// ID is the restored checkpoint's id, 0 when there is none.
	ID uint64
	// Handle is the sink's handle in the restored checkpoint, nil when there
	// is none.
	Handle []byte
	// Overwrite replaces committed output of the job that the restored
	// checkpoint does not account for (another run's, a lost checkpoint's)
	// instead of refusing to start.
	Overwrite bool
	// Replay is set for a job run WithReplay, whose run id names the same
	// computation at every start: committed output of run Run newer than
	// checkpoint ID is the replay's own, from an earlier start (another
	// checkpoint directory, a lost checkpoint), and is replaced: deleted, to
	// be written again, whatever its epoch. Output of other runs is treated
	// as without it.
	Replay bool
}
