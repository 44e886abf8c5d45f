package kinesis

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shardflow/shardflow/internal/kinesiserr"
	"github.com/shardflow/shardflow/pipeline"
)

// Name is the source's name in dead letters and metrics.
const Name = "kinesis"

// Source reads a Kinesis data stream by polling GetRecords, one reader per
// shard.
type Source struct {
	cfg    Config
	api    API
	stream streamRef
	start  startSpec

	consumerMu  sync.Mutex
	consumerARN string // enhanced fan-out, once registered

	idMu      sync.Mutex
	streamARN string        // configured, or learned by the first listing
	created   *time.Time    // the stream's creation time, learned by the first listing
	learned   bool          // the identity is known: the first listing described the stream
	retention time.Duration // the stream's retention period, learned with the identity; 0 if unknown
	resumed   *identity
	resumeErr error // Resume's verdict once checked; every later listing repeats it
	// latestFrom is, with Start latest, when the job first started reading
	// (this source's creation, or the time a resumed checkpoint recorded): a
	// shard that the checkpoint holds with no record read yet reopens at that
	// time, not at a new LATEST that would skip what arrived meanwhile.
	latestFrom time.Time
	resumedAt  bool // latestFrom came from a checkpoint
	// tips is, with StopAt.Tips, where each shard ends (with Backfill, where
	// its backfill ends): captured before the
	// first record is read, or resumed from a checkpoint (tips.go). tipsSem
	// lets one reader capture them while the others wait.
	tips    *tipSet
	tipsSem chan struct{}
	// passed holds, with Config.Backfill, the shards read up to their tips
	// (guarded by idMu, as tips).
	passed map[string]bool
	// clock is the source's notion of now where it decides where to look for
	// the tips (time.Now; tests skew it).
	clock func() time.Time

	troubleMu sync.Mutex
	trouble   map[string]string // by shard: the failure its reader retries now
	hot       hotBoard          // by shard: the write load its reader measured (hot.go)
	// renewal is how long a fan-out reader reads one subscription before it
	// opens the next (DefaultSubscriptionRenewal; tests shorten it).
	renewal time.Duration
}

var (
	_ pipeline.Source          = (*Source)(nil)
	_ pipeline.Identifier      = (*Source)(nil)
	_ pipeline.TroubleReporter = (*Source)(nil)
)

// New returns a source for cfg. It makes no call to Kinesis and starts no
// goroutine.
func New(ctx context.Context, cfg Config) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("kinesis: %w", err)
	}
	cfg = cfg.withDefaults()
	start, _ := parseStart(cfg.Start) // Validate checked it
	src := &Source{cfg: cfg, api: cfg.Client, stream: newStreamRef(cfg.Stream), start: start, renewal: DefaultSubscriptionRenewal, latestFrom: time.Now().UTC(),
		trouble: map[string]string{}, tipsSem: make(chan struct{}, 1), clock: time.Now}
	if src.stream.arn != nil {
		src.streamARN = *src.stream.arn
	}
	if _, ok := cfg.Client.(describer); !ok {
		src.learned = true // the name (or ARN) is all this client can tell
	}
	return src, nil
}

// Name returns "kinesis".
func (s *Source) Name() string { return Name }

// Bounded reports whether the source was configured with StopAt.
func (s *Source) Bounded() bool { return s.cfg.StopAt != nil }

// Shards lists the stream's shards, closed ones included, with their parents.
// The first successful listing also learns the stream's ARN for Identity
// (DescribeStreamSummary, when the client has it and the stream was named
// by name), and then checks a checkpoint's identity given to Resume before.
func (s *Source) Shards(ctx context.Context) ([]pipeline.Shard, error) {
	var shards []pipeline.Shard
	in := &kinesis.ListShardsInput{StreamName: s.stream.name, StreamARN: s.stream.arn, MaxResults: aws.Int32(1000)}
	what := fmt.Sprintf("list shards of stream %q", s.cfg.Stream)
	for {
		var out *kinesis.ListShardsOutput
		err := s.call(ctx, what, func(ctx context.Context) (err error) {
			out, err = s.api.ListShards(ctx, in, ownRetries)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, sh := range out.Shards {
			ps := pipeline.Shard{ID: aws.ToString(sh.ShardId)}
			for _, p := range []*string{sh.ParentShardId, sh.AdjacentParentShardId} {
				if p != nil && *p != "" {
					ps.Parents = append(ps.Parents, *p)
				}
			}
			shards = append(shards, ps)
		}
		if out.NextToken == nil || *out.NextToken == "" {
			break
		}
		// With a NextToken the stream must not be named again.
		in = &kinesis.ListShardsInput{NextToken: out.NextToken, MaxResults: aws.Int32(1000)}
	}
	if err := s.learnIdentity(ctx); err != nil {
		return nil, err
	}
	return shards, nil
}

// call makes one Kinesis call of the source (not of a shard reader) with
// CallTimeout, and repeats it after a backoff while it fails retryably, up
// to MaxRetries times and while ctx lasts. what names the call in errors and
// logs. A streak of failures is logged at warn (kinesiserr.Streak) and its
// end at info. When the attempts run out or ctx ends, the error is a
// kinesiserr.GaveUpError that names the last failure ("giving up after 12
// attempts over 30s: last error: dial tcp ...: connection refused"), not only
// the context's end.
func (s *Source) call(ctx context.Context, what string, fn func(ctx context.Context) error) error {
	var streak kinesiserr.Streak
	first := time.Now()
	var last error
	for attempt := 1; ; attempt++ {
		callCtx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
		err := fn(callCtx)
		cancel()
		if err == nil {
			if lasted, n, reported := streak.Succeed(time.Now()); reported {
				s.cfg.Logger.Info(fmt.Sprintf("%s: working again after %v of failures", what, kinesiserr.Round(lasted)),
					"stream", s.cfg.Stream, "failures", n)
			}
			return nil
		}
		if ctx.Err() != nil {
			// The call that ctx's end interrupted says only that; an earlier
			// failure says why the calls failed.
			if last == nil {
				last = err
			}
			return fmt.Errorf("kinesis: %s: %w", what, kinesiserr.GaveUp(attempt, first, last, ctx.Err()))
		}
		if !IsRetryable(err) {
			return fmt.Errorf("kinesis: %s: %w", what, err)
		}
		last = err
		if attempt > s.cfg.MaxRetries {
			return fmt.Errorf("kinesis: %s: %w", what, kinesiserr.GaveUp(attempt, first, err, nil))
		}
		if streak.Fail(time.Now(), err) {
			s.cfg.Logger.Warn(fmt.Sprintf("%s failing, retrying: %s", what, kinesiserr.Describe(err)),
				"stream", s.cfg.Stream, "kind", kinesiserr.Kind(err), "failures", streak.Failures(), "err", err)
		}
		if err := kinesiserr.Sleep(ctx, kinesiserr.Backoff(attempt-1, s.cfg.MinBackoff, s.cfg.MaxBackoff, nil)); err != nil {
			return fmt.Errorf("kinesis: %s: %w", what, kinesiserr.GaveUp(attempt, first, last, err))
		}
	}
}

// OpenShard returns a reader of shard that starts after position after, at
// the configured start when after is the zero Position, or at the shard's
// earliest record (TRIM_HORIZON) when after is pipeline.Earliest, whatever
// the configured start: the runtime gives Earliest to shards that appeared
// after its first listing (the children of a split or merge), every record
// of which is new to the job. It makes no call to Kinesis: the first Read
// gets the shard iterator (or subscribes).
//
// A checkpointed position resumes with AT_SEQUENCE_NUMBER and skips the
// record at after.Seq up to sub-record after.N: sub-sequence numbers count
// from 0, so (seq, 0) may be an ordinary record or the first user record of
// a KPL aggregate, and only the record itself tells which.
func (s *Source) OpenShard(ctx context.Context, shard pipeline.Shard, after pipeline.Position) (pipeline.ShardReader, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("kinesis: open shard %s: %w", shard.ID, err)
	}
	if shard.ID == "" {
		return nil, fmt.Errorf("kinesis: open shard: empty shard id")
	}
	if after.Seq == "" && after.N != 0 {
		return nil, fmt.Errorf("kinesis: open shard %s: position %s has no sequence number", shard.ID, after)
	}
	if after.Seq != "" && !after.IsEarliest() && strings.Trim(after.Seq, "0123456789") != "" {
		return nil, fmt.Errorf("kinesis: open shard %s: sequence number %q is not a decimal", shard.ID, after.Seq)
	}
	if after.Seq == "" && !after.IsEarliest() { // at the configured start
		if err := s.checkRetention(time.Now()); err != nil {
			return nil, err
		}
	}
	return newShardReader(s, shard.ID, after), nil
}
