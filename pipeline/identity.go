package pipeline

import (
	"context"
	"errors"
)

// ErrIncompatibleSource is returned by Run when the latest checkpoint was
// taken of another input than the job's source reads now (another generator
// seed or shard count, a replaced file, another stream).
var ErrIncompatibleSource = errors.New("pipeline: checkpoint was taken of another input")

// Identifier is implemented by sources that can tell their input apart, so
// that a checkpoint taken of another input is refused before any record is
// read, while input that has legitimately grown (more events, new lines, new
// files, new shards) is read on.
type Identifier interface {
	// Identity describes the input, as the next checkpoint records it. It is
	// called by the runtime's coordinator at every checkpoint, while shard
	// readers may be running.
	Identity() []byte
	// Resume is called once, before any shard is opened, with the identity
	// that the checkpoint being restored recorded (nil when the checkpoint
	// has none). It returns an error wrapping ErrIncompatibleSource, in one
	// line that says what changed and what to do, when this source is not
	// the input the checkpoint was taken of; otherwise it adopts what it
	// needs of prev (for example the identities of files read before).
	Resume(prev []byte) error
}

// TroubleReporter is implemented by sources whose shard reads retry failures
// (a server that refuses connections, throttling). Trouble returns, by shard,
// the failure being retried now, and nothing for shards that read normally,
// so that Stats and a status line can show an outage while it lasts.
type TroubleReporter interface {
	Trouble() map[string]string
}

// Replayable is implemented by sources that can read fixed input: a
// bounded range of a stream's retention, a set of archive objects. A job
// run WithReplay requires it.
type Replayable interface {
	// ReplayKey describes the input that the source reads, fixed from now
	// on: the stream or objects and the resolved range (where each shard
	// ends, not "now"). Equal keys mean the same records. It is called once,
	// after Resume and before any shard is opened, and may read the input
	// to resolve the range. It returns an error when the source is not
	// bounded.
	ReplayKey(ctx context.Context) ([]byte, error)
}
