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
// A shard opened at pipeline.Earliest (the runtime gives it to shards that
// appear after its first listing: the children of a split or merge) is read
// from TRIM_HORIZON whatever Config.Start says, since every record of it is
// new to the job; the zero Position means the configured start.
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
// Clients come from LoadClient, which reads the standard AWS configuration
// (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_KINESIS, the
// credential chain), or from anything that implements API, such as a fake in
// tests.
package kinesis
