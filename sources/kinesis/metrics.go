package kinesis

import "time"

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
