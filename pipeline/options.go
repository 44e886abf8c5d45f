package pipeline

import (
	"log/slog"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Option tunes how a job runs; Build takes them.
type Option func(*Job)

// WithLogger sets the job's logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(j *Job) { j.logger = l } }

// WithAllocator sets the allocator of every batch the job makes (default:
// memory.DefaultAllocator). Tests pass a checked allocator.
func WithAllocator(mem memory.Allocator) Option { return func(j *Job) { j.mem = mem } }

// WithMetrics sets the hook that receives the job's metrics (default: none).
func WithMetrics(m Metrics) Option { return func(j *Job) { j.metrics = m } }

// WithQueue sets how many elements may wait between the shard tasks and the
// keyed stage (default 8). With the source's batch size it bounds the memory
// in flight whatever the input rate: a full queue blocks the shard tasks.
func WithQueue(n int) Option {
	return func(j *Job) {
		if n > 0 {
			j.queue = n
		}
	}
}

// WithOverwrite makes the job replace committed output of the same job that
// its checkpoints do not account for (another run's, or a lost checkpoint's),
// instead of refusing to start. Use it to start a job over from scratch into
// an output it wrote before.
func WithOverwrite() Option { return func(j *Job) { j.overwrite = true } }

// WithReplay makes the job a replay: a bounded run over input that its
// source fixes when the job starts (a range of a stream's retention, a set
// of archive objects), which the source must describe (Replayable). The run
// id is then derived from the job's name and fingerprint and what the source
// reads, not drawn at random: every start of the same replay is the same
// run, its output files have the same names, and committed output of that
// run that the restored checkpoint does not account for (an earlier start
// with another checkpoint directory, a lost checkpoint) is the replay's own,
// replaced instead of refused (Recovery.Replay). Output of other runs is
// still refused, as without the option.
func WithReplay() Option { return func(j *Job) { j.replay = true } }

// WithParallelism sets how many instances of the keyed stage run side by side,
// each on a goroutine of its own with the rows of its partition of the keys
// (default: GOMAXPROCS). A keyed operator that cannot run partitioned (see
// PartitionedOperator), and a window without keys, run as one. The
// parallelism is not part of the job's shape: a job resumes from a
// checkpoint written with another.
func WithParallelism(n int) Option {
	return func(j *Job) {
		if n > 0 {
			j.parallel = n
		}
	}
}

// WithReplayStep makes a replay's checkpoints (WithReplay) cut by its
// records instead of the clock: checkpoint k covers, of every shard, the
// records before the first one that arrived (RawArrival) at or after k*step
// since the Unix epoch, so that the same replay checkpoints the same rows
// whatever its pace, its checkpoint interval or a crash, and its sinks name
// its files alike. Checkpoint ids are then those boundary numbers (they
// increase, with gaps). A step of 0 means DefaultReplayStep. The source's
// records must carry their arrival times (Kinesis does; records without one
// cross no boundary and checkpoint only at the end). A Shutdown stops such
// a replay at its last cut, which the next start resumes from. Without
// WithReplay the option does nothing.
func WithReplayStep(step time.Duration) Option {
	return func(j *Job) {
		if step <= 0 {
			step = DefaultReplayStep
		}
		j.replayStep = max(step.Milliseconds(), 1)
	}
}
