// Package kinesiserr is the one classifier of Kinesis API errors, shared by
// the Kinesis source and the Kinesis producer (they use the same client), and
// the jittered exponential backoff both retry with.
package kinesiserr

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

// Error codes of the Kinesis API that callers treat specially.
const (
	ThroughputExceeded       = "ProvisionedThroughputExceededException"
	LimitExceeded            = "LimitExceededException"
	KMSThrottling            = "KMSThrottlingException"
	Throttling               = "ThrottlingException"
	ExpiredIterator          = "ExpiredIteratorException"
	ResourceInUse            = "ResourceInUseException"
	InternalFailure          = "InternalFailure" // PutRecords' per-record code
	InternalFailureException = "InternalFailureException"
)

// Code returns the API error code of err, "" when it has none.
func Code(err error) string {
	if ae, ok := errors.AsType[smithy.APIError](err); ok {
		return ae.ErrorCode()
	}
	return ""
}

// IsThrottleCode reports whether an error code (of a call, or of one record
// of PutRecords) says a Kinesis rate limit was exceeded: read or write
// throughput, API call rate, KMS.
func IsThrottleCode(code string) bool {
	switch code {
	case ThroughputExceeded, LimitExceeded, KMSThrottling, Throttling:
		return true
	}
	return false
}

// IsThrottle reports whether err says a Kinesis rate limit was exceeded.
func IsThrottle(err error) bool { return IsThrottleCode(Code(err)) }

// IsExpiredIterator reports whether err says the shard iterator expired (5
// minutes after it was issued); a reader then asks for a new one.
func IsExpiredIterator(err error) bool { return Code(err) == ExpiredIterator }

// IsRetryable reports whether a failed call may succeed when repeated after a
// backoff. Throttles, the service's internal failures, 5xx answers, the
// timeout of a single call and broken connections are retryable; a canceled
// context, validation errors, missing streams, KMS key problems and access
// errors are not. An expired iterator is not retryable as such: it needs a new
// iterator. A GaveUpError is not retryable either: its caller already retried.
func IsRetryable(err error) bool {
	if _, ok := errors.AsType[*GaveUpError](err); ok {
		return false
	}
	switch {
	case err == nil, errors.Is(err, context.Canceled):
		return false
	case errors.Is(err, context.DeadlineExceeded):
		return true // one call's timeout; the caller checks its own context first
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return true // the connection broke mid-answer
	case IsThrottle(err):
		return true
	}
	switch Code(err) {
	case InternalFailure, InternalFailureException, "InternalServerError", "ServiceUnavailable",
		"ServiceUnavailableException", "RequestTimeout", "RequestTimeoutException":
		return true
	case ExpiredIterator:
		return false
	}
	return retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary
}

// Backoff returns the pause before retry number attempt (0 for the first):
// exponential from lo, capped at hi, with "equal jitter" (half fixed, half
// random) so that many shards or producers do not retry in step and never
// spin. randN(n) returns a duration in [0, n); nil means math/rand/v2.N.
func Backoff(attempt int, lo, hi time.Duration, randN func(time.Duration) time.Duration) time.Duration {
	d := hi
	if attempt < 30 {
		d = min(hi, lo<<max(attempt, 0))
	}
	if randN == nil {
		randN = rand.N[time.Duration]
	}
	half := d / 2
	return half + randN(d-half+1)
}

// Sleep waits d, or until ctx is done (then it returns ctx's error).
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
