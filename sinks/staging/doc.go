// Package staging provides the two-phase-commit file area that shardflow's file
// sinks share: files are written under hidden staged names, made durable by
// PreCommit, recorded in a commit log and renamed to their final names by
// Commit. The output knows what it holds.
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
// # The commit log
//
// Each area's root (a table directory, the dead-letter directory) keeps a
// commit log in "<root>/_shardflow/" (see LogDir): one JSON file per commit
// of a checkpoint that had files,
//
//	_shardflow/commit-<run>-<ckpt:08d>.<ext>.json
//	{"version":1,"job":"clickstream","run":"3f9a0c12ab45","epoch":1,"checkpoint":4,
//	 "files":["dt=2026-03-01/hour=22/part-3f9a0c12ab45-00000004-0000.parquet"]}
//
// Commit writes the entry (temporary file, fsync, rename, fsync of the
// directory) before it renames the data files, so a crash in between leaves
// an entry whose files are still staged, and the re-commit on recovery
// finishes the job. The underscore keeps the log out of DuckDB's, Spark's and
// Trino's globs; the log's files end in .json anyway.
//
// Recover reads the log before it touches anything. The entries of the same
// job are accounted for when they are of the recovering run and no newer than
// the restored checkpoint. Entries of another run (a job started with a fresh
// checkpoint directory, or a job without a checkpoint store, which gets a new
// run every time) and entries newer than the restored checkpoint (a lost
// checkpoint's output) are refused with ErrUnaccounted, unless
// pipeline.Recovery.Overwrite: then exactly the files they list are deleted,
// with the entries. An entry of the same run with a greater fencing epoch is
// refused with pipeline.ErrFenced, Overwrite or not: a newer process writes
// this output. Every file of an accounted entry must exist; a missing one is
// refused with ErrMissing, naming it. Entries and files of other jobs in the
// same directory are never touched.
//
// A replay (pipeline.Recovery.Replay) has a run id that names the same
// computation at every start, so the entries of its run newer than the
// restored checkpoint are its own, from an earlier start with another
// checkpoint directory or a lost checkpoint: Recover deletes them and their
// files, and the replay writes them again, under the same names. Two
// processes must not run the same replay into the same output with
// different checkpoint directories at once: each would replace the other's.
//
// Dropping old partitions (retention, a manual delete) removes committed
// files that the log lists, so the next start refuses. Restore them, or start
// the job once with Overwrite, which drops the missing files from the log for
// good; files the checkpoints account for are never deleted by it.
//
// # Lifecycle
//
//	Recover   check the commit log (above), commit the latest checkpoint's
//	          handle again, then delete every staged file of the job's runs
//	          that the handle does not own; sets the run id, so it comes
//	          before Create
//	Create    register the run in the log (once), open a staged file (for
//	          the next checkpoint)
//	PreCommit fsync and close every open staged file and its directories;
//	          return a handle (JSON) listing staged and final names
//	Commit    write the log entry, rename staged to final, fsync the
//	          directories; idempotent
//	Abort     close and delete the staged files not yet pre-committed
//
// Files that were pre-committed but not committed are never deleted by Abort:
// the checkpoint that owns them may have been persisted, and only Recover
// knows. Recover deletes the unowned staged files of the area's extension
// under the root that are of its job: of a run that the log attributes to the
// job, by a commit entry or by the run's registration,
//
//	_shardflow/run-<run>.<ext>.json
//	{"version":1,"job":"clickstream","run":"3f9a0c12ab45"}
//
// which Create writes before a run's first staged file (so the staged files
// of a run that crashed before its first commit are still the job's), and
// files named before names carried a run. Another job's staged files in the
// same directory may be waiting for a commit whose checkpoint is saved: they
// are never touched.
//
// A sink embeds a Committer for the steps that touch only the area: its
// Commit and Recover serve as the sink's, and the sink's own PreCommit and
// Close finish or forget its encoders before calling the Committer's. The
// Committer counts the files committed, the commits, and what Overwrite
// deleted or forgot.
//
// All file-system calls go through the FS interface so that tests can fail
// any of them on demand (see stagingtest).
package staging
