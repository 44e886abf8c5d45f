package kinesis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
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

// Per-record and call error codes that a retry may cure.
const (
	codeThroughputExceeded = "ProvisionedThroughputExceededException"
	codeInternalFailure    = "InternalFailure"
)

func apiCode(err error) string {
	if ae, ok := errors.AsType[smithy.APIError](err); ok {
		return ae.ErrorCode()
	}
	return ""
}

// IsThrottle reports whether err (or a per-record error code, via
// IsThrottleCode) says a Kinesis rate limit was exceeded.
func IsThrottle(err error) bool { return IsThrottleCode(apiCode(err)) }

// IsThrottleCode reports whether a Kinesis error code is a throttle.
func IsThrottleCode(code string) bool {
	switch code {
	case codeThroughputExceeded, "LimitExceededException", "KMSThrottlingException", "ThrottlingException":
		return true
	}
	return false
}

// IsRetryable is the producer's one classifier: whether a failed PutRecords
// call may succeed when repeated after a backoff. Throttles, internal
// failures, 5xx answers, one call's timeout and broken connections are
// retryable; a canceled context, validation errors, a missing stream, KMS
// key problems and access errors are not.
func IsRetryable(err error) bool {
	switch {
	case err == nil, errors.Is(err, context.Canceled):
		return false
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return true
	case IsThrottle(err):
		return true
	}
	switch apiCode(err) {
	case codeInternalFailure, "InternalFailureException", "InternalServerError", "ServiceUnavailable",
		"ServiceUnavailableException", "RequestTimeout", "RequestTimeoutException":
		return true
	}
	return retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary
}

// isRetryableCode reports whether a per-record ErrorCode may succeed on retry.
// Kinesis documents ProvisionedThroughputExceededException and
// InternalFailure; KMS throttling is retryable too, other KMS errors are not.
func isRetryableCode(code string) bool {
	return IsThrottleCode(code) || code == codeInternalFailure || code == "InternalFailureException"
}

// backoff returns the pause before retry number attempt (1-based):
// exponential from lo, capped at hi, with equal jitter (half fixed, half
// random), so that producers do not retry in step and never spin.
func backoff(attempt int, lo, hi time.Duration, randN func(time.Duration) time.Duration) time.Duration {
	d := hi
	if attempt-1 < 30 {
		d = min(hi, lo<<max(attempt-1, 0))
	}
	half := d / 2
	return half + randN(d-half+1)
}

func defaultRandN(n time.Duration) time.Duration { return rand.N(n) }

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
