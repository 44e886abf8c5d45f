package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrShardEnd is returned by ShardReader.Read when the shard has no more
// records and never will: a file read to its end, a generator shard that has
// produced its count, a closed Kinesis shard read to its end, or a bounded
// replay that reached its upper bound.
var ErrShardEnd = errors.New("pipeline: end of shard")

// ErrBoundReached is returned by ShardReader.Read when a bounded read of a
// shard that goes on (a replay up to a time) has reached its bound. Unlike
// ErrShardEnd the shard is not finished: the checkpoint keeps its position,
// and a later job reads on from there. The bounded job drains its windows at
// the end (watermark MaxTime), so a job resumed from its checkpoint sees
// every later row as late: continuing a backfill live is not designed yet.
var ErrBoundReached = errors.New("pipeline: bound of a bounded read reached")

// ExpiredError is returned by ShardReader.Read when the records a shard held
// after its checkpointed position are gone: the stream's retention passed
// them before the job resumed, so reading on would skip them silently. The
// source sets Shard, After and Oldest; the runtime sets Since from the
// checkpoint, so that the error says how much was lost. Its message names
// neither the shard nor the position, which the runtime's error around it
// does.
type ExpiredError struct {
	Shard string
	// After is the checkpointed position, the last record the job read.
	After Position
	// Oldest is when the oldest record the shard still retains arrived.
	Oldest time.Time
	// Since is when the record at After arrived (ShardState.Arrival), zero if
	// the checkpoint does not say.
	Since time.Time
}

func (e *ExpiredError) Error() string {
	lost := "the records after it were never read"
	if !e.Since.IsZero() && e.Oldest.After(e.Since) {
		lost = fmt.Sprintf("%.1f hours of records, from %s (the checkpoint's last record) to %s (the oldest retained), were never read",
			e.Oldest.Sub(e.Since).Hours(), e.Since.UTC().Format(time.RFC3339), e.Oldest.UTC().Format(time.RFC3339))
	} else if !e.Oldest.IsZero() {
		lost = fmt.Sprintf("the records after it, up to %s (the oldest retained), were never read", e.Oldest.UTC().Format(time.RFC3339))
	}
	return "the checkpoint's last record has expired from the stream: " + lost
}

// ReadEnded reports whether err ends the reading of a shard: ErrShardEnd or
// ErrBoundReached.
func ReadEnded(err error) bool {
	return errors.Is(err, ErrShardEnd) || errors.Is(err, ErrBoundReached)
}

// Shard describes one shard of a source and its lineage.
type Shard struct {
	ID string
	// Parents are the shards that must be read to their end before this one
	// starts (Kinesis ParentShardId and AdjacentParentShardId). A parent that the
	// source no longer lists (expired from retention) counts as finished.
	Parents []string
}

// Source is a set of shards. Implementations are sources/generator,
// sources/file and sources/kinesis.
type Source interface {
	// Name identifies the kind of source in dead letters and metrics ("generator", "file", "kinesis").
	Name() string
	// Shards lists the shards the source has now, parents included. The runtime
	// calls it at start, whenever a shard ends, and every DiscoveryInterval for
	// an unbounded source.
	Shards(ctx context.Context) ([]Shard, error)
	// OpenShard starts reading shard after position after (the zero Position:
	// from the source's configured start, e.g. the beginning of a file or
	// trim_horizon). The reader belongs to one goroutine.
	OpenShard(ctx context.Context, shard Shard, after Position) (ShardReader, error)
	// Bounded reports whether every shard of the source ends by itself
	// (ErrShardEnd or ErrBoundReached), so that the job finishes once all
	// shards have ended.
	Bounded() bool
}

// ShardReader reads one shard in order.
type ShardReader interface {
	// Read returns the next batch of raw records (RawSchema), ErrShardEnd once
	// the shard has ended, or ErrBoundReached once a bounded read has reached
	// its bound. It may block while no record arrives, but
	// should return now and then (a nil batch and a nil error) so that an
	// IdleReporter can be asked, and it must return when ctx ends. The runtime
	// reads in a goroutine of its own, so a blocking Read never delays a
	// checkpoint.
	Read(ctx context.Context) (*Batch, error)
	// Close releases the reader's resources.
	Close() error
}

// IdleReporter is implemented by shard readers that know when their shard is
// caught up and empty (Kinesis: MillisBehindLatest = 0 and no records). An idle
// shard stops holding the job's watermark back until it receives records again.
type IdleReporter interface {
	Idle() bool
}
