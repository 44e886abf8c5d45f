package kinesis

import (
	"errors"
	"fmt"

	"github.com/shardflow/shardflow/internal/kinesiserr"
)

// Errors of the producer; test with errors.Is.
var (
	// ErrRecordTooLarge: a record's data plus partition key exceed the stream's
	// record limit.
	ErrRecordTooLarge = errors.New("kinesis: record too large")
	// ErrPartitionKey: a partition key is empty or longer than 256 characters.
	ErrPartitionKey = errors.New("kinesis: invalid partition key")
	// ErrGaveUp: a record failed MaxAttempts times.
	ErrGaveUp = errors.New("kinesis: record not written after all attempts")
	// ErrNoShard: no open shard covers a partition key's hash (aggregation).
	ErrNoShard = errors.New("kinesis: no open shard for partition key")
)

// RecordError is the error of a record that gave up: the last per-record
// error code Kinesis returned for it. It wraps ErrGaveUp.
type RecordError struct {
	PartitionKey string
	Attempts     int
	Code         string
	Message      string
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("kinesis: record with partition key %q failed %d attempts: %s: %s", e.PartitionKey, e.Attempts, e.Code, e.Message)
}

func (e *RecordError) Unwrap() error { return ErrGaveUp }

// IsThrottle reports whether err (or a per-record error code, via
// IsThrottleCode) says a Kinesis rate limit was exceeded.
func IsThrottle(err error) bool { return kinesiserr.IsThrottle(err) }

// IsThrottleCode reports whether a Kinesis error code is a throttle.
func IsThrottleCode(code string) bool { return kinesiserr.IsThrottleCode(code) }

// IsRetryable is the producer's classifier (the one the Kinesis source uses
// too): whether a failed PutRecords call may succeed when repeated after a
// backoff. Throttles, internal failures, 5xx answers, one call's timeout and
// broken connections are retryable; a canceled context, validation errors, a
// missing stream, KMS key problems and access errors are not.
func IsRetryable(err error) bool { return kinesiserr.IsRetryable(err) }
