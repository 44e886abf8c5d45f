package kinesis

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// ErrCorruptAggregate marks a KPL aggregate that cannot be decoded; such a
// record goes to the dead letters.
var ErrCorruptAggregate = errors.New("kinesis: corrupt KPL aggregate")

// Error codes of the Kinesis API the reader treats specially.
const (
	codeThroughputExceeded = "ProvisionedThroughputExceededException"
	codeLimitExceeded      = "LimitExceededException"
	codeKMSThrottling      = "KMSThrottlingException"
	codeThrottling         = "ThrottlingException"
	codeExpiredIterator    = "ExpiredIteratorException"
	codeInternalFailure    = "InternalFailureException"
)

func apiCode(err error) string {
	if ae, ok := errors.AsType[smithy.APIError](err); ok {
		return ae.ErrorCode()
	}
	return ""
}

// IsThrottle reports whether err says the caller exceeded a Kinesis rate
// limit (read throughput, API call rate, KMS).
func IsThrottle(err error) bool {
	switch apiCode(err) {
	case codeThroughputExceeded, codeLimitExceeded, codeKMSThrottling, codeThrottling:
		return true
	}
	return false
}

// IsExpiredIterator reports whether err says the shard iterator expired
// (5 minutes after it was issued); the reader then asks for a new one after
// the last record it read.
func IsExpiredIterator(err error) bool { return apiCode(err) == codeExpiredIterator }

// IsRetryable is the reader's one classifier: whether a failed call may
// succeed when repeated after a backoff. Throttles, the service's internal
// failures, 5xx answers, timeouts of a single call and broken connections are
// retryable; a canceled context, validation errors, missing streams and access
// errors are not. An expired iterator is not retryable as such: it needs a new
// iterator (IsExpiredIterator).
func IsRetryable(err error) bool {
	switch {
	case err == nil, errors.Is(err, context.Canceled):
		return false
	case errors.Is(err, context.DeadlineExceeded):
		return true // one call's CallTimeout; the caller checks its own context first
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return true // the connection broke mid-answer
	case IsThrottle(err):
		return true
	}
	switch apiCode(err) {
	case codeInternalFailure, "InternalFailure", "InternalServerError", "ServiceUnavailable", "ServiceUnavailableException", "RequestTimeout", "RequestTimeoutException":
		return true
	case "":
	default:
		if IsExpiredIterator(err) {
			return false
		}
	}
	return retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary
}

// backoff returns the pause before retry number attempt (0-based): exponential
// from lo, capped at hi, with "equal jitter" (half fixed, half random) so that
// readers of many shards do not retry in step and never spin.
func backoff(attempt int, lo, hi time.Duration) time.Duration {
	d := hi
	if attempt < 30 {
		d = min(hi, lo<<attempt)
	}
	half := d / 2
	return half + rand.N(d-half+1)
}
