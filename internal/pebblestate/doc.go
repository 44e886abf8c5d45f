// Package pebblestate implements pipeline.SpillStore with pebble
// (github.com/cockroachdb/pebble), the LSM store of CockroachDB, as Flink
// keeps large keyed state in RocksDB: a keyed window operator over its state
// limit moves its exact distinct sets there and keeps its results exact.
//
// A store is scratch space. Each one lives in a directory of its own, made
// under the configured directory when an operator first spills and removed
// when it closes; it has no write-ahead log and is never synced, because the
// job's checkpoints hold the whole state and a restart never reads a store a
// previous process left behind (a process killed before closing leaves its
// directory, spill-*, which can be deleted).
package pebblestate
