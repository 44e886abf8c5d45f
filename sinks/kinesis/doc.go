// Package kinesis writes to Amazon Kinesis Data Streams: a Producer that any
// program can use (shardflow produce uses it) and a pipeline.Sink built on it
// for jobs that write derived streams.
//
// # Delivery
//
// Kinesis has no transactions, so the sink writes at least once: a record put
// before a crash may be put again when the job replays from its last
// checkpoint. Sink.Write returns only after every row of the batch has been
// acknowledged by Kinesis, so nothing a completed checkpoint covers is lost.
// Consumers that need exactly once deduplicate, e.g. by a key in the data.
//
// # Batching and retries
//
// Records go out in PutRecords calls of at most 500 records and 5 MiB
// (partition keys included). A call that fails as a whole with a retryable
// error (throttling, internal failures, 5xx, broken connections) is repeated;
// a call that partly fails (FailedRecordCount > 0, per-record ErrorCode
// ProvisionedThroughputExceededException or InternalFailure) has only its
// failed records sent again, never the ones that succeeded. Retries wait with
// jittered exponential backoff, and a record gives up after
// ProducerConfig.MaxAttempts attempts, failing Put, Flush or Write.
//
// # Order
//
// PutRecords does not order the records of one call against a retry of an
// earlier failed one. To keep the records of each partition key in the order
// they were put even across partial failures, a call carries at most one
// record per partition key (per shard, when aggregating); the others wait for
// the next call, in order. With few distinct keys and no aggregation this
// costs throughput; ProducerConfig.Unordered packs calls fully and lets a
// retried record land after later records of its key.
//
// # KPL aggregation
//
// With ProducerConfig.Aggregate, user records are packed into KPL aggregates
// (package internal/kpl) of up to MaxAggregateBytes. The producer lists the
// stream's open shards and keeps one aggregate per shard, holding the records
// whose partition key hashes into that shard, and puts each aggregate under
// its first record's key: every user record lands in the shard its own key
// maps to. When Kinesis reports an aggregate in another shard than expected
// (the stream was resharded), the producer lists the shards again.
//
// # Use
//
// A Producer is used by one goroutine and starts none. Put buffers a record
// and sends full calls; Flush sends everything buffered and waits for it; the
// caller calls Flush before it exits. Linger bounds how long Put keeps a
// record buffered when calls do not fill.
package kinesis
