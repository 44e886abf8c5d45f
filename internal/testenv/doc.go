// Package testenv starts the real services that shardflow's integration tests
// run against (Kinesis API servers) on loopback, and reads
// Parquet back through DuckDB, an independent reader.
//
// The services are installed by scripts/testenv-install.sh. A test that needs
// one that is missing or cannot start fails and says why; it never skips.
package testenv
