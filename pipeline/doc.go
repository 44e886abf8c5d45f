// Package pipeline is shardflow's runtime: the element protocol that travels between
// stages, the small interfaces that sources, operators, sinks and checkpoint stores
// implement, and the job runner with its checkpoint coordinator.
//
// # Elements
//
// Data moves as a *Batch: an Arrow record batch of one shard with the shard's
// first and last Position and the batch's event-time bounds. Barrier (checkpoint
// N has reached this point of a shard's stream) travels in order on the same
// path; watermarks follow from the batches' event times.
//
// # Ownership
//
// Whoever hands a *Batch to another stage hands over its one Arrow reference; the
// receiver calls Release exactly once. A stage that sends one batch down two
// branches calls Retain once per extra branch.
//
// # Tasks
//
// A job runs as a small graph of goroutines. Each shard has a task that reads
// it and runs the shard-local stages fused. A hash exchange on the job's key
// columns (KeyHash, computed in the shard tasks) feeds the keyed stage's
// instances, one per partition of the keys (WithParallelism), each with its
// own instances of the stages after it; every sink has a task of its own. The
// coordinator between the shard tasks and the keyed stage routes batches,
// tracks the watermark, which it sends to every instance, and drives
// checkpoints. All queues between them are bounded.
//
// # Checkpoints
//
// Checkpoints follow Flink's aligned-barrier model with two-phase-commit sinks:
// every shard task records its position and emits Barrier{N}; once N has arrived
// from every active shard every instance of the keyed stage snapshots its state
// behind the rows it was given before, every sink
// pre-commits what it has staged, the CheckpointStore persists the checkpoint
// atomically, and only then are the sinks told to commit. Output therefore
// becomes visible exactly once although sources are read at least once.
package pipeline
