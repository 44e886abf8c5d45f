// Package stagingtest tests shardflow's file sinks: FaultFS fails the calls of
// a staging.FS on demand to simulate crashes, and RunCommitterSuite is the
// conformance suite that every two-phase-commit file sink passes.
package stagingtest
