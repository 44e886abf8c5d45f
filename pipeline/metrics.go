package pipeline

import "time"

// Metrics receives what a running job measures. Implementations must be safe
// for concurrent use: shard tasks call it from their own goroutines. The
// Prometheus implementation lives outside this package so that the runtime
// does not depend on a metrics library.
type Metrics interface {
	// ShardRead counts records and payload bytes read from a shard.
	ShardRead(shard string, records, bytes int)
	// Watermark reports the job's watermark after it advanced.
	Watermark(ms int64)
	// Checkpoint reports a completed (err == nil) or failed checkpoint.
	Checkpoint(id uint64, took time.Duration, err error)
	// ShardDone reports that a shard's task has ended (the shard finished,
	// reached its bound, or the job stopped), so per-shard series can go.
	ShardDone(shard string)
	// Counters reports the current counters of a stage or sink that
	// implements CounterReporter (shard-local stages summed over shards),
	// by its name, at every checkpoint and when the job ends.
	Counters(component string, counters map[string]int64)
}

type nopMetrics struct{}

func (nopMetrics) ShardRead(string, int, int)              {}
func (nopMetrics) Watermark(int64)                         {}
func (nopMetrics) Checkpoint(uint64, time.Duration, error) {}
func (nopMetrics) ShardDone(string)                        {}
func (nopMetrics) Counters(string, map[string]int64)       {}
