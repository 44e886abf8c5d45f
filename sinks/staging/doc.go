// Package staging provides the two-phase-commit file area that shardflow's file
// sinks share: files are written under hidden staged names, made durable by
// PreCommit, and renamed to their final names by Commit.
//
// # Names
//
// A staged file is "<dir>/.part-<ckpt:08d>-<seq:04d>.<ext>.pending"; its final
// name is "<dir>/part-<id:08d>-<seq:04d>.<ext>", where id is the checkpoint that
// pre-committed it. The leading dot and the ".pending" suffix keep staged files
// out of readers' globs (DuckDB's read_parquet('**/*.parquet') and Hive-style
// readers skip both). Names depend only on the checkpoint, the directory (the
// sink's partition) and a sequence number, so a replayed Commit renames to the
// same name instead of making a second copy.
//
// # Lifecycle
//
//	Create    open a staged file (for the next checkpoint)
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
