// Package leases keeps Kinesis shard leases in a DynamoDB table, in the
// Kinesis Client Library 2.x/3.x item layout, so that several workers of one
// job share a stream's shards and a KCL application's checkpoints can be
// imported.
//
// Every write to a lease is conditional on the counter the writer last saw
// (leaseCounter, the fencing epoch) and on its owner, so exactly one worker
// holds a shard and a worker that lost its lease can never commit for it:
// its write fails with a *ConditionError, which matches ErrLeaseLost.
//
// A Table does the single-item operations (take, renew, steal, checkpoint
// with the shard's window state, hand-off, release, SHARD_END). A
// Coordinator runs one worker's lease rounds: it renews its leases, sees
// other workers' leases expire by their counter not changing for the expiry
// (measured on an injectable clock), and takes its fair share at once with
// Plan, a pure function: expired and unowned leases first, then several from
// the most loaded workers in the same round, by graceful hand-off.
//
// The package is not wired into the job runtime yet; pipeline must not
// import it.
package leases
