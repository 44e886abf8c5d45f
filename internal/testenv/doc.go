// Package testenv starts the real services that shardflow's integration tests
// run against (Kinesis API servers, dynalite, redis-server) on loopback, and reads
// Parquet back through DuckDB, an independent reader.
//
// Each service a test starts owns its port: it binds port 0 and reports the
// port it got (Start with PrintedPort), or, when it cannot report it, it is
// told a port and Start waits until the listener there is a socket of the
// service's own process group, retrying on another port when another process
// took it first (StartOnPort). A connection to a service's Endpoint therefore
// reaches that service and not another test's. When a test fails, the output
// of every service it ran is logged as the service stops.
//
// The services are installed by scripts/testenv-install.sh. A test that needs
// one that is missing or cannot start fails and says why; it never skips.
package testenv
