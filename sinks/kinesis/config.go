package kinesis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shardflow/shardflow/internal/kpl"
)

// API is the part of the Kinesis API the producer uses. *kinesis.Client
// satisfies it; tests use a fake. ListShards is called only when
// aggregating, to map partition keys to shards.
type API interface {
	PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
}

var _ API = (*kinesis.Client)(nil)

// Kinesis limits that bound the configuration.
const (
	// MaxCallRecords is the most records one PutRecords call takes.
	MaxCallRecords = 500
	// MaxCallBytes is the most bytes (data plus partition keys) one PutRecords call takes.
	MaxCallBytes = 5 << 20
	// MaxRecordBytes is a record's default limit, data plus partition key (1 MiB).
	MaxRecordBytes = 1 << 20
	// MaxPartitionKeyLen is the longest partition key, in Unicode characters.
	MaxPartitionKeyLen = 256
)

// Defaults applied to zero fields of ProducerConfig.
const (
	DefaultMaxAttempts = 10
	DefaultMinBackoff  = 100 * time.Millisecond
	DefaultMaxBackoff  = 5 * time.Second
	DefaultCallTimeout = 30 * time.Second
)

// ProducerConfig configures a Producer. Every field but Stream and Client has
// a sensible zero value.
type ProducerConfig struct {
	// Stream is the stream's name or ARN ("arn:aws:kinesis:REGION:ACCOUNT:stream/NAME").
	Stream string
	// Client is the Kinesis API; *kinesis.Client satisfies it.
	Client API
	// Aggregate packs user records into KPL aggregates, one per shard (see
	// the package documentation).
	Aggregate bool
	// MaxAggregateBytes bounds an aggregate, data plus partition key
	// (default kpl.DefaultMaxBytes, at most MaxRecordBytesLimit).
	MaxAggregateBytes int
	// MaxRecordBytesLimit is the stream's record limit, data plus partition key:
	// MaxRecordBytes (the default) or up to 10 MiB for streams that opted in.
	MaxRecordBytesLimit int
	// CallRecords and CallBytes bound one PutRecords call (defaults and
	// maxima MaxCallRecords and MaxCallBytes).
	CallRecords, CallBytes int
	// MaxAttempts is how many times a record is sent before the producer gives
	// up and returns the error (default 10). A call that fails as a whole
	// counts as an attempt of each of its records.
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the jittered exponential backoff between
	// retries (defaults 100ms and 5s).
	MinBackoff, MaxBackoff time.Duration
	// CallTimeout bounds one PutRecords call (default 30s).
	CallTimeout time.Duration
	// Unordered lets a call carry several records of one partition key (or
	// shard, when aggregating): fuller calls, but a retried record may land
	// after later records of its key.
	Unordered bool
	// Linger, when positive, makes Put send everything buffered once the
	// oldest buffered record has waited this long. Zero: Put sends only full
	// calls, and the rest waits for Flush.
	Linger time.Duration
	// Logger receives the producer's logs (default: discarded).
	Logger *slog.Logger
}

// Validate checks the configuration.
func (c ProducerConfig) Validate() error {
	var errs []error
	if c.Client == nil {
		errs = append(errs, errors.New("kinesis: Client is nil"))
	}
	if err := validateStream(c.Stream); err != nil {
		errs = append(errs, err)
	}
	recordLimit := c.MaxRecordBytesLimit
	if recordLimit == 0 {
		recordLimit = MaxRecordBytes
	}
	if recordLimit < 1 || recordLimit > 10<<20 {
		errs = append(errs, fmt.Errorf("kinesis: MaxRecordBytesLimit %d not in [1, 10 MiB]", c.MaxRecordBytesLimit))
	}
	if c.MaxAggregateBytes != 0 && (c.MaxAggregateBytes < 1024 || c.MaxAggregateBytes > recordLimit) {
		errs = append(errs, fmt.Errorf("kinesis: MaxAggregateBytes %d not in [1024, %d]", c.MaxAggregateBytes, recordLimit))
	}
	if c.CallRecords < 0 || c.CallRecords > MaxCallRecords {
		errs = append(errs, fmt.Errorf("kinesis: CallRecords %d not in [1, %d]", c.CallRecords, MaxCallRecords))
	}
	if c.CallBytes < 0 || c.CallBytes > MaxCallBytes {
		errs = append(errs, fmt.Errorf("kinesis: CallBytes %d not in [1, %d]", c.CallBytes, MaxCallBytes))
	}
	if c.MaxAttempts < 0 {
		errs = append(errs, fmt.Errorf("kinesis: MaxAttempts %d is negative", c.MaxAttempts))
	}
	if c.MinBackoff < 0 || c.MaxBackoff < 0 || c.CallTimeout < 0 || c.Linger < 0 {
		errs = append(errs, errors.New("kinesis: negative duration"))
	}
	if c.MinBackoff > 0 && c.MaxBackoff > 0 && c.MinBackoff > c.MaxBackoff {
		errs = append(errs, fmt.Errorf("kinesis: MinBackoff %v above MaxBackoff %v", c.MinBackoff, c.MaxBackoff))
	}
	return errors.Join(errs...)
}

func (c ProducerConfig) withDefaults() ProducerConfig {
	d := c
	if d.MaxRecordBytesLimit == 0 {
		d.MaxRecordBytesLimit = MaxRecordBytes
	}
	if d.MaxAggregateBytes == 0 {
		d.MaxAggregateBytes = min(kpl.DefaultMaxBytes, d.MaxRecordBytesLimit)
	}
	if d.CallRecords == 0 {
		d.CallRecords = MaxCallRecords
	}
	if d.CallBytes == 0 {
		d.CallBytes = MaxCallBytes
	}
	if d.MaxAttempts == 0 {
		d.MaxAttempts = DefaultMaxAttempts
	}
	if d.MinBackoff == 0 {
		d.MinBackoff = min(DefaultMinBackoff, max(d.MaxBackoff, time.Millisecond))
	}
	if d.MaxBackoff == 0 {
		d.MaxBackoff = max(DefaultMaxBackoff, d.MinBackoff)
	}
	if d.CallTimeout == 0 {
		d.CallTimeout = DefaultCallTimeout
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return d
}

// Config configures a Sink: the producer's settings and where each row's
// partition key and data come from.
type Config struct {
	ProducerConfig
	// Name identifies the sink in checkpoints and logs; default "kinesis:" + Stream.
	Name string
	// PartitionKeyColumn is the column whose value is a row's partition key:
	// a string, binary or integer column. A null or empty key fails Write.
	PartitionKeyColumn string
	// DataColumn, when set, is a binary or string column whose bytes are the
	// record's data (null: empty data). When empty, the data is the whole row
	// as a JSON object (see the Sink documentation).
	DataColumn string
}

// Validate checks the configuration.
func (c Config) Validate() error {
	var errs []error
	if err := c.ProducerConfig.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.PartitionKeyColumn == "" {
		errs = append(errs, errors.New("kinesis: PartitionKeyColumn is empty"))
	}
	return errors.Join(errs...)
}

func validateStream(s string) error {
	switch {
	case s == "":
		return errors.New("kinesis: Stream is empty")
	case strings.HasPrefix(s, "arn:"):
		parts := strings.SplitN(s, ":", 6)
		if len(parts) != 6 || parts[2] != "kinesis" || !strings.HasPrefix(parts[5], "stream/") || len(parts[5]) == len("stream/") {
			return fmt.Errorf("kinesis: %q is not a stream ARN", s)
		}
	case len(s) > 128:
		return fmt.Errorf("kinesis: stream name %q longer than 128 characters", s)
	}
	return nil
}
