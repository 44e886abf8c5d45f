// Package union is a pipeline.Source that reads several sources as one job
// input: two Kinesis streams, a stream and a backlog of files, generators of
// different seeds.
//
// Each member has a name, which prefixes the ids of its shards: shard
// "shardId-000000000000" of member "clicks" is "clicks/shardId-000000000000"
// to the job, in its checkpoints, its batches, its statistics and its dead
// letters. Lineage stays within a member (the parents of a prefixed shard are
// the prefixed parents), and positions pass through unchanged, so every member
// resumes from a checkpoint exactly as it would alone.
//
// The union's identity (pipeline.Identifier) is the ordered list of its
// members, each with its name, its kind (Source.Name) and its own identity. A
// checkpoint of a union with other members (one added, removed, renamed or
// moved, or of another kind) is refused before any record is read, and so is
// one that a member refuses itself (another seed, a replaced file, another
// stream): the error wraps pipeline.ErrIncompatibleSource and names the member.
//
// The union is bounded when every member is, and a bounded union ends when
// every member's shards have ended. Idleness (pipeline.IdleReporter) and
// trouble (pipeline.TroubleReporter) are forwarded from the members that
// report them, under the prefixed shard ids.
package union
