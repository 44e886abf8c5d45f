// Package sources groups shardflow's pipeline.Source implementations. It holds
// no code of its own; each source lives in a subpackage:
//
//   - sources/generator: a deterministic, restartable clickstream generator,
//     bounded by an event count or unbounded, optionally rate limited.
//   - sources/file: JSON-lines files matched by a glob, one shard per file.
//   - sources/kinesis: Amazon Kinesis Data Streams, one shard per Kinesis shard,
//     with lineage and KPL deaggregation.
//   - sources/union: several sources as one input, each member's shard ids
//     prefixed by its name, checkpointed with every member's identity.
//   - sources/sourcetest: the conformance suite that every source passes.
//
// A source lists shards and opens a pipeline.ShardReader per shard that
// resumes after a pipeline.Position, so a job restarted from a checkpoint reads
// every record after the checkpoint exactly once more. Readers emit batches of
// pipeline.RawSchema; decoding belongs to the operators.
package sources
