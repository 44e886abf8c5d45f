package kinesis

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardflow/shardflow/pipeline"
)

// Start positions of Config.Start.
const (
	StartTrimHorizon = "trim_horizon"
	StartLatest      = "latest"
	// StartAtTimestampPrefix is followed by an RFC 3339 time:
	// "at_timestamp:2026-11-30T10:00:00Z".
	StartAtTimestampPrefix = "at_timestamp:"
)

// Limits of the Kinesis API that bound the configuration.
const (
	// MaxRecordsPerCall is the most records one GetRecords call returns.
	MaxRecordsPerCall = 10000
	// ShardReadBytesPerSecond is a shard's read throughput shared by every
	// polling consumer.
	ShardReadBytesPerSecond = 2 << 20
	// MinCallInterval keeps a reader within 5 GetRecords calls per second.
	MinCallInterval = 200 * time.Millisecond
)

// Defaults applied by New to zero fields of Config.
const (
	DefaultPollInterval = time.Second
	DefaultIdleTimeout  = 30 * time.Second
	DefaultMaxRetries   = 20
	DefaultCallTimeout  = 10 * time.Second
	// DefaultRetentionMargin: a shard read less than 6 hours before its
	// records expire is about to lose some.
	DefaultRetentionMargin = 6 * time.Hour
)

// Config configures a Source. The zero value of every field but Stream and
// Client is a sensible default.
type Config struct {
	// Stream is the stream's name or ARN ("arn:aws:kinesis:REGION:ACCOUNT:stream/NAME").
	Stream string
	// Client is the Kinesis API; *kinesis.Client from LoadClient satisfies it.
	Client API
	// Consumer, when set, reads with enhanced fan-out (SubscribeToShard) as the
	// named stream consumer, registered when it does not exist; Client must
	// then implement FanOutAPI. Empty: polling GetRecords.
	Consumer string
	// Start is where a shard without a checkpointed position is read from:
	// "trim_horizon" (the default), "latest" or "at_timestamp:RFC3339".
	Start string
	// PollInterval is the pause between GetRecords calls once a shard is caught
	// up (default 1s, at least 200ms). A shard that is behind is read as fast as
	// 5 calls/s and ReadShare allow.
	PollInterval time.Duration
	// MaxRecordsPerCall is GetRecords' Limit (default and maximum 10,000).
	MaxRecordsPerCall int
	// ReadShare is the fraction of a shard's 2 MB/s this source may read, for
	// streams that other polling consumers read too (default 1, in (0, 1]).
	ReadShare float64
	// IdleTimeout is how long a caught-up shard must stay empty before its
	// reader reports Idle (default 30s).
	IdleTimeout time.Duration
	// MaxRetries is how many consecutive retryable failures (throttling,
	// transient errors) a reader absorbs before Read returns the error
	// (default 20; backoff is jittered and exponential up to MaxBackoff).
	MaxRetries int
	// MinBackoff and MaxBackoff bound the retry backoff (defaults 100ms and 5s).
	MinBackoff, MaxBackoff time.Duration
	// CallTimeout bounds one API call (default 10s).
	CallTimeout time.Duration
	// StopAt, when set, makes the source bounded: every shard ends at its bound.
	StopAt *StopAt
	// Backfill captures the shards' tips as StopAt.Tips does, before any
	// record is read, and keeps them in the checkpoints, but reads on past
	// them: each shard is backfilled up to its tip and then followed live,
	// with nothing read twice or skipped at the handover. Backfill reports
	// the shards that have passed their tips. It cannot be combined with
	// StopAt.
	Backfill bool
	// AcceptExpired lets a shard whose checkpointed record has expired from
	// the stream (its retention passed it before the job resumed) go on from
	// the oldest record it retains, with a warning and ExpiredMetrics; by
	// default its Read fails with a *pipeline.ExpiredError wrapping
	// ErrExpired, which says how many hours of records were lost.
	AcceptExpired bool
	// RetentionMargin is how close to the stream's retention limit a shard's
	// reading may fall behind before the source warns that its records are
	// about to expire unread (default DefaultRetentionMargin; see
	// RetentionMetrics).
	RetentionMargin time.Duration
	// Logger receives the source's logs (default: discarded).
	Logger *slog.Logger
	// Metrics receives per-shard counters (default: none).
	Metrics Metrics
	// Mem allocates the Arrow batches (default memory.DefaultAllocator).
	Mem memory.Allocator
}

// StopAt is the upper bound of a bounded replay. A shard ends at the first
// record past any of the bounds that are set, or, for Time, once the shard is
// caught up at a moment after Time. A closed shard also ends when drained.
type StopAt struct {
	// Time ends a shard at records that arrived after it (Kinesis
	// ApproximateArrivalTimestamp). For a replay "to now", set it to the time
	// the replay started.
	Time time.Time
	// Positions ends each listed shard after the record at its position; shards
	// that are not listed are bounded by Time only (or, without Time, by their
	// end, which only a closed shard has).
	Positions map[string]pipeline.Position
	// Tips ends every shard at its tip, the last record it held when the
	// source first read: a replay "to now" that no clock can skew. Before
	// any record is read, the source reads each open shard up to
	// MillisBehindLatest 0 and keeps the sequence number of its last record
	// (tips.go); an open shard without records is read not at all, a closed
	// shard to its end, and a shard created after the capture (the child of a
	// reshard during the replay) not at all. The tips go into the source's
	// Identity, so that a replay resumed from a checkpoint ends at the same
	// records, however late it resumes. A shard also listed in Positions ends
	// at the earlier of the two.
	Tips bool
}

// StopAtNow returns a bound that ends every shard at the records that had
// arrived when it was called, by this machine's clock against the records'
// arrival times; StopAt{Tips: true} is the bound that no clock skews.
func StopAtNow() *StopAt { return &StopAt{Time: time.Now()} }

// startSpec is a parsed Config.Start.
type startSpec struct {
	typ types.ShardIteratorType
	at  time.Time
}

func parseStart(s string) (startSpec, error) {
	switch {
	case s == "" || s == StartTrimHorizon:
		return startSpec{typ: types.ShardIteratorTypeTrimHorizon}, nil
	case s == StartLatest:
		return startSpec{typ: types.ShardIteratorTypeLatest}, nil
	case strings.HasPrefix(s, StartAtTimestampPrefix):
		t, err := time.Parse(time.RFC3339Nano, strings.TrimPrefix(s, StartAtTimestampPrefix))
		if err != nil {
			return startSpec{}, fmt.Errorf("kinesis: start %q: %w", s, err)
		}
		return startSpec{typ: types.ShardIteratorTypeAtTimestamp, at: t}, nil
	default:
		return startSpec{}, fmt.Errorf("kinesis: start %q: want trim_horizon, latest or at_timestamp:RFC3339", s)
	}
}

// ValidateStart reports whether s is a Config.Start the source accepts:
// StartLatest, StartTrimHorizon (or ""), or StartAtTimestampPrefix followed by
// an RFC 3339 time.
func ValidateStart(s string) error {
	_, err := parseStart(s)
	return err
}

// Validate reports the first problem of c.
func (c Config) Validate() error {
	var errs []error
	if c.Stream == "" {
		errs = append(errs, errors.New("kinesis: no stream"))
	} else if isARN(c.Stream) {
		if _, err := streamNameFromARN(c.Stream); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Client == nil {
		errs = append(errs, errors.New("kinesis: no client"))
	} else if _, ok := c.Client.(FanOutAPI); c.Consumer != "" && !ok {
		errs = append(errs, fmt.Errorf("kinesis: consumer %q: client %T cannot subscribe to shards", c.Consumer, c.Client))
	}
	if _, err := parseStart(c.Start); err != nil {
		errs = append(errs, err)
	}
	if c.PollInterval < 0 {
		errs = append(errs, fmt.Errorf("kinesis: negative poll interval %v", c.PollInterval))
	}
	if c.MaxRecordsPerCall < 0 || c.MaxRecordsPerCall > MaxRecordsPerCall {
		errs = append(errs, fmt.Errorf("kinesis: max records per call %d not in [1, %d]", c.MaxRecordsPerCall, MaxRecordsPerCall))
	}
	if c.ReadShare < 0 || c.ReadShare > 1 {
		errs = append(errs, fmt.Errorf("kinesis: read share %v not in (0, 1]", c.ReadShare))
	}
	if c.RetentionMargin < 0 {
		errs = append(errs, fmt.Errorf("kinesis: negative retention margin %v", c.RetentionMargin))
	}
	if c.IdleTimeout < 0 {
		errs = append(errs, fmt.Errorf("kinesis: negative idle timeout %v", c.IdleTimeout))
	}
	if c.MaxRetries < 0 {
		errs = append(errs, fmt.Errorf("kinesis: negative max retries %d", c.MaxRetries))
	}
	if c.MinBackoff < 0 || c.MaxBackoff < 0 || (c.MaxBackoff > 0 && c.MinBackoff > c.MaxBackoff) {
		errs = append(errs, fmt.Errorf("kinesis: backoff [%v, %v] is not a range", c.MinBackoff, c.MaxBackoff))
	}
	if c.CallTimeout < 0 {
		errs = append(errs, fmt.Errorf("kinesis: negative call timeout %v", c.CallTimeout))
	}
	if c.Backfill && c.StopAt != nil {
		errs = append(errs, errors.New("kinesis: Backfill reads on past the tips, StopAt ends there: set one of them"))
	}
	if c.StopAt != nil && c.StopAt.Time.IsZero() && len(c.StopAt.Positions) == 0 && !c.StopAt.Tips {
		errs = append(errs, errors.New("kinesis: StopAt has neither a time, positions nor tips"))
	}
	return errors.Join(errs...)
}

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	c.PollInterval = max(c.PollInterval, MinCallInterval)
	if c.MaxRecordsPerCall == 0 {
		c.MaxRecordsPerCall = MaxRecordsPerCall
	}
	if c.ReadShare == 0 {
		c.ReadShare = 1
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = DefaultMaxRetries
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = 100 * time.Millisecond
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 5 * time.Second
	}
	c.MaxBackoff = max(c.MaxBackoff, c.MinBackoff)
	if c.CallTimeout == 0 {
		c.CallTimeout = DefaultCallTimeout
	}
	if c.RetentionMargin == 0 {
		c.RetentionMargin = DefaultRetentionMargin
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Metrics == nil {
		c.Metrics = nopMetrics{}
	}
	if c.Mem == nil {
		c.Mem = memory.DefaultAllocator
	}
	return c
}

func isARN(stream string) bool { return strings.HasPrefix(stream, "arn:") }

// streamNameFromARN returns NAME of arn:PARTITION:kinesis:REGION:ACCOUNT:stream/NAME.
func streamNameFromARN(arn string) (string, error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[2] != "kinesis" || !strings.HasPrefix(parts[5], "stream/") || len(parts[5]) == len("stream/") {
		return "", fmt.Errorf("kinesis: %q is not a stream ARN", arn)
	}
	return strings.TrimPrefix(parts[5], "stream/"), nil
}
