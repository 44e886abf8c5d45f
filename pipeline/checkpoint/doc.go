// Package checkpoint stores a job's checkpoints as files in a local directory,
// implementing pipeline.CheckpointStore.
//
// # Layout
//
//	<root>/<job>/chk-<id, 20 digits>.ckpt   a checkpoint, in the ckptfmt format
//	<root>/<job>/.chk-<id>-<random>.tmp    a Save in progress, or left by a crash
//	<root>/<job>/chk-<id>.ckpt.corrupt     set aside by Save, see below
//
// # Durability
//
// Save follows pebble's checkpoint discipline: it writes a temporary file in
// the job's directory, fsyncs it, renames it to its final name and fsyncs the
// directory (and the root, the first time it creates the job's directory). A
// crash at any point leaves either the whole new checkpoint or the previous
// state. When Save returns an error the new checkpoint is not there: Save
// removes its temporary file, and if the final directory fsync fails it
// removes the renamed file as well, so that recovery uses the previous
// checkpoint. After a successful Save, the Keep newest checkpoints stay and
// older ones, and leftover temporary files, are deleted; a failure to delete
// is logged, not returned, because the checkpoint itself is safe.
//
// # Corruption
//
// Latest returns the newest checkpoint that loads (reads, decodes, and holds
// the job and id its name says). A newer one that does not load is reported
// to the Logger at level ERROR and skipped. If checkpoints exist and none
// loads, Latest returns an error wrapping ErrNoValidCheckpoint rather than
// nil: a job must not silently start from scratch over a damaged history.
// Move the job's directory aside to do that deliberately.
//
// Checkpoint ids only grow: Save refuses an id that is not greater than the
// newest checkpoint that loads. If Latest fell back past damaged files, the
// job resumes from the older checkpoint and its next Save reuses the ids of
// the damaged files; that Save renames every checkpoint file newer than the
// one it wrote to *.corrupt, for inspection, so that a damaged file that later
// reads back fine can never be mistaken for the newest checkpoint.
//
// # Concurrency
//
// A Dir may be used from several goroutines. One process at a time may write
// a job's directory (the runtime runs one coordinator per job); readers such
// as a CLI may call Latest, List and Load while it does, since Latest and
// List never modify the directory.
package checkpoint
