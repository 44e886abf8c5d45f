// Package kinesis reads Amazon Kinesis Data Streams shard by shard as a
// pipeline.Source.
//
// A Source lists the stream's shards with their lineage (ListShards, paginated;
// parents are ParentShardId and AdjacentParentShardId) and opens one
// ShardReader per shard, which the runtime drives from that shard's reader
// goroutine: Read may block while nothing arrives (barriers do not wait for
// it), but returns a nil batch about every second so that Idle is asked, and
// returns at once when its context ends.
// A reader polls GetRecords at most five times a second, fast while the shard
// is behind and every PollInterval once it is caught up, within a share of the
// shard's 2 MB/s read limit; it retries throttling and transient errors with
// jittered exponential backoff (one classifier, IsRetryable), renews expired
// iterators after the last record it read, and returns pipeline.ErrShardEnd
// once a closed shard is drained, or pipeline.ErrBoundReached once a bounded
// replay reached its StopAt (the shard stays open in the checkpoint).
//
// StopAt.Tips bounds a replay "to now" without a clock: before the first
// record is read, the source finds each open shard's tip, the sequence number
// of its last record (tips.go), and keeps the tips in its Identity, so a
// resumed replay ends at the same records.
//
// A shard opened at pipeline.Earliest (the runtime gives it to shards that
// appear after its first listing: the children of a split or merge) is read
// from TRIM_HORIZON whatever Config.Start says, since every record of it is
// new to the job; the zero Position means the configured start.
//
// Failures are not silent. A reader's third consecutive retryable failure is
// logged at warn with its cause ("shard shardId-000000000000: GetRecords
// failing, retrying: dial tcp 127.0.0.1:4567: connect: connection refused",
// attributes kind, failures, failing_for, err), again when the kind of
// failure changes or every five minutes while it lasts, and its end at info
// ("shard shardId-000000000000: reading again after 25s of failures").
// Source.Trouble (pipeline.TroubleReporter) shows the failure by shard while
// it lasts. A Metrics that implements FailureMetrics counts every retried
// failure by shard and kind (FailureKinds: connection, throttled,
// expired_iterator, server_error, timeout, other). The source's own calls
// (ListShards, DescribeStreamSummary) log the same way; when a call gives up,
// because MaxRetries ran out or the context ended, its error names the last
// failure ("list shards of stream "clicks": giving up after 12 attempts over
// 30s: last error: dial tcp ...: connection refused") and still wraps the
// context's error.
//
// The source implements pipeline.Identifier: its identity is the stream's
// name, ARN and creation time (DescribeStreamSummary, at the first listing;
// what the server does not tell is left out) and the fan-out consumer.
// Resume refuses a checkpoint of another stream, or of a stream of the same
// name deleted and created again (same ARN, another creation time: its
// sequence numbers do not continue), in one line that names both; switching
// between polling and fan-out of one stream is compatible.
//
// With Config.Consumer set, shards are read with enhanced fan-out instead:
// the consumer is registered (or found), each reader subscribes to its shard
// (SubscribeToShard) and subscribes again, after the last record it read,
// whenever a subscription ends (every 5 minutes) or breaks. Ordering,
// positions and the end of closed shards follow the same rules as polling.
//
// Positions are (sequence number, sub-sequence number): records produced with
// the Kinesis Producer Library's aggregation are deaggregated and each user
// record is addressed by its index inside the aggregate, so a checkpoint can
// fall inside an aggregate. A corrupt aggregate is handed to the dead letters
// as a pipeline.DeadLetterSide batch, in stream order.
//
// Each reader measures its shard's write load from the records it reads
// (hot.go): Kinesis records and bytes per second of ApproximateArrivalTimestamp
// over the last LoadWindow (60 s) of arrival time, so a replay of old data
// reports the rate it was written at, and the heaviest partition keys per
// HotKeyPeriod (5 minutes of arrival time) with a Space-Saving sketch. Once a
// reader is caught up, the window runs on to the time of its empty answers, so
// a shard no longer written to falls to zero. Source.Load returns the load by
// shard; a Metrics that implements LoadMetrics gets the rates and the shares of
// the top HotKeysReported keys (not the keys: they are unbounded as labels);
// at the end of each period the keys are logged, at info when the shard used
// half a write limit or its heaviest key carried a fifth of its records, else
// at debug.
//
// Clients come from LoadClient, which reads the standard AWS configuration
// (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_KINESIS, the
// credential chain), or from anything that implements API, such as a fake in
// tests.
package kinesis
