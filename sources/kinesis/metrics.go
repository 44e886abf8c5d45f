package kinesis

import (
	"time"

	"github.com/shardflow/shardflow/internal/kinesiserr"
)

// Metrics receives a source's per-shard measurements. Methods are called from
// the shard's reader goroutine; implementations must be safe for concurrent
// use across shards.
type Metrics interface {
	// RecordsIn counts user records (after deaggregation) and their payload bytes.
	RecordsIn(shard string, records, bytes int)
	// MillisBehind reports GetRecords' MillisBehindLatest.
	MillisBehind(shard string, ms int64)
	// IteratorAge reports how old the newest record of a GetRecords answer is
	// (CloudWatch's IteratorAgeMilliseconds): now minus its arrival time.
	IteratorAge(shard string, age time.Duration)
	// Throttled counts answers that said a rate limit was exceeded.
	Throttled(shard string)
	// Retried counts calls repeated after a retryable error (throttles included)
	// and iterators renewed after they expired.
	Retried(shard string)
}

type nopMetrics struct{}

func (nopMetrics) RecordsIn(string, int, int)        {}
func (nopMetrics) MillisBehind(string, int64)        {}
func (nopMetrics) IteratorAge(string, time.Duration) {}
func (nopMetrics) Throttled(string)                  {}
func (nopMetrics) Retried(string)                    {}

// FailureMetrics is implemented by Metrics that also count a reader's failed
// calls by kind; the source finds it by type assertion, so that Metrics
// written before it keep working. Methods are called from the shard's reader
// goroutine.
type FailureMetrics interface {
	// ShardOpened is called when a reader of shard is opened, so that the
	// shard's failure counters can start at zero.
	ShardOpened(shard string)
	// ReadFailed counts one retryable failed call of the shard's reader
	// (the last one too, when the reader gives up); kind is one of
	// FailureKinds.
	ReadFailed(shard, kind string)
}

// FailureKinds are the kinds of failures that FailureMetrics.ReadFailed
// counts: connection (refused, reset, broken mid-answer), throttled,
// expired_iterator, server_error (5xx, internal failure), timeout (one call
// got no answer in time) and other.
var FailureKinds = kinesiserr.Kinds

// LoadMetrics is implemented by Metrics that also report each shard's write
// load (see ShardLoad); the source finds it by type assertion, so that Metrics
// written before it keep working. Methods are called from the shard's reader
// goroutine after every answer.
type LoadMetrics interface {
	// WriteRate reports the shard's write rate over the last LoadWindow of
	// arrival time: Kinesis records (an aggregate counts once) and their data
	// plus partition key bytes, per second. The limits are
	// ShardWriteRecordsPerSecond and ShardWriteBytesPerSecond.
	WriteRate(shard string, recordsPerSecond, bytesPerSecond float64)
	// HotKeyShares reports the shares of the shard's records that its
	// heaviest partition keys carried over the last HotKeyPeriod, heaviest
	// first, at most HotKeysReported of them (fewer when fewer keys were
	// seen). The keys themselves are in Source.Load and the source's log.
	HotKeyShares(shard string, shares []float64)
}

// RetentionMetrics is implemented by Metrics that also report how close each
// shard's reading is to the stream's retention limit; the source finds it by
// type assertion. Methods are called from the shard's reader goroutine.
type RetentionMetrics interface {
	// RetentionHeadroom reports, after every answer with records, how long
	// the last record read has before the stream's retention expires it:
	// the retention period minus its age. Below Config.RetentionMargin the
	// records the job has not read yet are about to expire.
	RetentionHeadroom(shard string, headroom time.Duration)
	// ExpiredResumed counts a shard that resumed past records that had
	// expired unread (with Config.AcceptExpired).
	ExpiredResumed(shard string)
}
