package pipeline

import (
	"context"
	"time"
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
	// zero Position if none was read.
	Position Position `json:"position"`
	// Finished is set once the shard has ended and every record was read; a
	// finished shard is never read again.
	Finished bool `json:"finished,omitempty"`
	// Parents is the shard's lineage, as Shard.Parents.
	Parents []string `json:"parents,omitempty"`
	// MaxEventTime is the highest event time the shard has produced (MinTime if
	// none); the shard's watermark is this minus the job's out-of-orderness bound.
	MaxEventTime int64 `json:"max_event_time"`
}

// CheckpointStore persists checkpoints. Save must be atomic: after a crash the
// store holds either the whole checkpoint or none of it.
type CheckpointStore interface {
	// Save persists cp atomically and durably.
	Save(ctx context.Context, cp *Checkpoint) error
	// Latest returns the newest complete checkpoint of job, or nil and no error
	// when there is none.
	Latest(ctx context.Context, job string) (*Checkpoint, error)
}
