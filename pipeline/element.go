package pipeline

// The elements that travel between a job's stages besides *Batch. They move in
// order with the data, so a consumer knows exactly which rows came before them.

// Barrier marks the point of shard Shard's stream that checkpoint ID covers:
// every row before it belongs to the checkpoint, none after it. State is what
// the checkpoint records of the shard at that point.
type Barrier struct {
	ID    uint64
	Shard string
	State ShardState
}

// shardEnd tells the coordinator that a shard task has stopped: the shard
// ended (State.Finished), a bounded read reached its bound (Bound), or the
// task was asked to stop after a final barrier.
type shardEnd struct {
	Shard string
	State ShardState
	Bound bool
}
