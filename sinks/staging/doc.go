// Package staging provides the two-phase-commit file area that shardflow's file
// sinks share: files are written under hidden staged names, made durable by
// PreCommit, and renamed to their final names by Commit.
//
// # Names
//
// A staged file is "<dir>/.part-<run>-<ckpt:08d>-<seq:04d>.<ext>.pending"; its
// final name is "<dir>/part-<run>-<id:08d>-<seq:04d>.<ext>", where run is the
// run id (pipeline.Recovery.Run: 1 to 32 characters of [a-z0-9-]) and id the
// checkpoint that pre-committed the file. The leading dot and the ".pending"
// suffix keep staged files out of readers' globs (DuckDB's
// read_parquet('**/*.parquet') and Hive-style readers skip both). No other run
// can produce a final name, so a new run never renames over another run's
// files; within a run names are deterministic, so a replayed Commit renames to
// the same name instead of making a second copy. ParseName also reads the
// names of files committed before names carried a run ("part-<id>-<seq>.<ext>"):
// a checkpoint written then still lists them in its handle, and the handle
// still commits.
//
// # Lifecycle
//
//	Create    open a staged file (for the next checkpoint); after Recover,
//	          which sets the run id
//	PreCommit fsync and close every open staged file and its directories;
//	          return a handle (JSON) listing staged and final names
//	Commit    rename staged to final, fsync the directories; idempotent
//	Recover   commit the latest checkpoint's handle again, then delete every
//	          staged file that the handle does not own
//	Abort     close and delete the staged files not yet pre-committed
//
// Files that were pre-committed but not committed are never deleted by Abort:
// the checkpoint that owns them may have been persisted, and only Recover
// knows.
//
// A sink embeds a Committer for the steps that touch only the area: its
// Commit and Recover serve as the sink's, and the sink's own PreCommit and
// Close finish or forget its encoders before calling the Committer's.
//
// All file-system calls go through the FS interface so that tests can fail
// any of them on demand (see stagingtest).
package staging
