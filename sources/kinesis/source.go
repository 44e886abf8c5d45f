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
	// renewal is how long a fan-out reader reads one subscription before it
	// opens the next (DefaultSubscriptionRenewal; tests shorten it).
	renewal time.Duration
}

var _ pipeline.Source = (*Source)(nil)

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
	return &Source{cfg: cfg, api: cfg.Client, stream: newStreamRef(cfg.Stream), start: start, renewal: DefaultSubscriptionRenewal}, nil
}

// Name returns "kinesis".
func (s *Source) Name() string { return Name }

// Bounded reports whether the source was configured with StopAt.
func (s *Source) Bounded() bool { return s.cfg.StopAt != nil }

// Shards lists the stream's shards, closed ones included, with their parents.
func (s *Source) Shards(ctx context.Context) ([]pipeline.Shard, error) {
	var shards []pipeline.Shard
	in := &kinesis.ListShardsInput{StreamName: s.stream.name, StreamARN: s.stream.arn, MaxResults: aws.Int32(1000)}
	for attempt := 0; ; {
		callCtx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
		out, err := s.api.ListShards(callCtx, in, ownRetries)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("kinesis: list shards of %s: %w", s.cfg.Stream, ctx.Err())
			}
			if !IsRetryable(err) || attempt >= s.cfg.MaxRetries {
				return nil, fmt.Errorf("kinesis: list shards of %s: %w", s.cfg.Stream, err)
			}
			if err := kinesiserr.Sleep(ctx, kinesiserr.Backoff(attempt, s.cfg.MinBackoff, s.cfg.MaxBackoff, nil)); err != nil {
				return nil, fmt.Errorf("kinesis: list shards of %s: %w", s.cfg.Stream, err)
			}
			attempt++
			continue
		}
		attempt = 0
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
			return shards, nil
		}
		// With a NextToken the stream must not be named again.
		in = &kinesis.ListShardsInput{NextToken: out.NextToken, MaxResults: aws.Int32(1000)}
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
	return newShardReader(s, shard.ID, after), nil
}
