package kinesis

import (
	"errors"

	"github.com/shardflow/shardflow/internal/kinesiserr"
)

// ErrCorruptAggregate marks a KPL aggregate that cannot be decoded; such a
// record goes to the dead letters.
var ErrCorruptAggregate = errors.New("kinesis: corrupt KPL aggregate")

// ErrExpired is returned when a shard would start at a time older than the
// stream retains.
var ErrExpired = errors.New("kinesis: start not retained")

// IsThrottle reports whether err says the caller exceeded a Kinesis rate
// limit (read throughput, API call rate, KMS).
func IsThrottle(err error) bool { return kinesiserr.IsThrottle(err) }

// IsExpiredIterator reports whether err says the shard iterator expired
// (5 minutes after it was issued); the reader then asks for a new one after
// the last record it read.
func IsExpiredIterator(err error) bool { return kinesiserr.IsExpiredIterator(err) }

// IsRetryable is the reader's classifier (the one the producer in
// sinks/kinesis uses too): whether a failed call may succeed when repeated
// after a backoff. Throttles, the service's internal failures, 5xx answers,
// timeouts of a single call and broken connections are retryable; a canceled
// context, validation errors, missing streams and access errors are not. An
// expired iterator is not retryable as such: it needs a new iterator
// (IsExpiredIterator).
func IsRetryable(err error) bool { return kinesiserr.IsRetryable(err) }
