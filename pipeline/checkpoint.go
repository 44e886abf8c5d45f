package pipeline

import (
	"context"
	"errors"
	"time"
)

var (
	// ErrStoreLocked is returned by CheckpointStore.Acquire when another
	// process holds the job's checkpoints.
	ErrStoreLocked = errors.New("pipeline: the job's checkpoints are held by another process")
	// ErrFenced is returned by CheckpointStore.Save for a checkpoint whose
	// epoch is older than the store's: a newer process took the store over,
	// and this one must stop without committing anything.
	ErrFenced = errors.New("pipeline: the checkpoint store was taken over by a newer process")
)

// Checkpoint is a consistent cut through a running job: where every shard was,
// the keyed operators' state at exactly that point, and what each sink staged
// up to it.
type Checkpoint struct {
	// ID increases by one with every checkpoint of a job, across restarts.
	ID uint64 `json:"id"`
	// Job is the job's name.
	Job string `json:"job"`
	// Fingerprint identifies the job's shape (its stages and schemas); a job
	// refuses to restore a checkpoint of a different shape.
	Fingerprint string `json:"fingerprint"`
	// Run identifies the run that the checkpoint continues: chosen when the
	// job starts without a checkpoint and carried by every checkpoint after.
	// Sinks put it in the names of what they commit, so that no two runs can
	// produce the same name.
	Run string `json:"run"`
	// Epoch is the fencing epoch of the process that wrote the checkpoint
	// (StoreLock.Epoch); the store refuses a Save with an older one.
	Epoch uint64 `json:"epoch"`
	// Source is the source's identity (Identifier.Identity) at the
	// checkpoint; nil for a source that has none.
	Source []byte `json:"source,omitempty"`
	// Created is the wall-clock time the checkpoint was completed.
	Created time.Time `json:"created"`
	// Watermark is the job's watermark when the checkpoint was taken.
	Watermark int64 `json:"watermark"`
	// Shards holds every shard the job has read, finished ones included.
	Shards map[string]ShardState `json:"shards"`
	// Operators holds the keyed operators' snapshots by stage name.
	Operators map[string][]byte `json:"operators,omitempty"`
	// Sinks holds the pre-commit handles of the Committer sinks by sink name.
	Sinks map[string][]byte `json:"sinks,omitempty"`
}

// ShardState is what a checkpoint records of one shard.
type ShardState struct {
	// Position is the last record of the shard that the checkpoint covers; the
	// zero Position if none was read (Earliest for a shard that appeared
	// after the job's first listing).
	Position Position `json:"position"`
	// Finished is set once the shard has ended and every record was read; a
	// finished shard is never read again.
	Finished bool `json:"finished,omitempty"`
	// Parents is the shard's lineage, as Shard.Parents.
	Parents []string `json:"parents,omitempty"`
	// MaxEventTime is the highest event time the shard has produced (MinTime if
	// none); the shard's watermark is this minus the job's out-of-orderness bound.
	MaxEventTime int64 `json:"max_event_time"`
	// Arrival is when the source received the record at Position, in Unix
	// milliseconds (RawArrival), 0 if it does not say. A source whose records
	// expire reports the records lost since then (ExpiredError).
	Arrival int64 `json:"arrival,omitempty"`
	// Keyed is the keyed stage's state of the shard (its window partials),
	// when the stage keeps state per shard (ShardSnapshotter): the parts of
	// the stage's instances that hold any, loadable without the other shards'.
	// Only checkpoints carry it.
	Keyed []byte `json:"keyed,omitempty"`
	// Local holds the state of the shard's stateful shard-local operators
	// (LocalSnapshotter) by stage name, as the shard's task snapshotted it at
	// its last barrier or at its end; a child shard that has none of its own
	// starts from its parents' (see LocalSnapshotter.RestoreLocal).
	Local map[string][]byte `json:"local,omitempty"`
}

// CheckpointStore persists checkpoints. Save must be atomic: after a crash the
// store holds either the whole checkpoint or none of it.
type CheckpointStore interface {
	// Acquire makes the calling process the only one that saves checkpoints
	// of job, until the lock is released or the process ends, and returns
	// the lock with a fencing epoch greater than every earlier holder's. When
	// another process holds the job, the error wraps ErrStoreLocked.
	Acquire(ctx context.Context, job string) (StoreLock, error)
	// Save persists cp atomically and durably. It refuses, with an error
	// wrapping ErrFenced, a checkpoint whose Epoch is not the current holder's
	// (a newer process took the store over).
	Save(ctx context.Context, cp *Checkpoint) error
	// Latest returns the newest complete checkpoint of job, or nil and no error
	// when there is none. It never falls back past a checkpoint it cannot
	// read: that is an error, because the unreadable checkpoint's output may
	// have been committed.
	Latest(ctx context.Context, job string) (*Checkpoint, error)
}

// StoreLock is a process's exclusive hold on a job's checkpoints.
type StoreLock interface {
	// Epoch is the fencing epoch every checkpoint saved under the lock carries.
	Epoch() uint64
	// Release gives the job's checkpoints up; releasing twice does nothing.
	Release() error
}
