package pipeline

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
)

// Sink writes the batches of one output: the job's main output or a side such
// as the dead letters. A sink is used by one goroutine.
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
	// Recover is called once before the job reads anything, with the handle
	// that the latest completed checkpoint holds for this sink (id 0 and a nil
	// handle when there is none). It commits that handle again and discards
	// whatever was staged after it.
	Recover(ctx context.Context, id uint64, handle []byte) error
}
