// Package bench holds shardflow's comparative benchmarks, run against real
// services on loopback (see README.md). The code is in its _test.go files;
// this package exports nothing.
package bench
