// Package checkpoint stores a job's checkpoints as files in a local directory,
// implementing pipeline.CheckpointStore.
//
// # Layout
//
//	<root>/<job>/chk-<id, 20 digits>.ckpt   a checkpoint, in the ckptfmt format
//	<root>/<job>/.chk-<id>-<random>.tmp    a Save in progress, or left by a crash
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
// is logged, not returned, because the checkpoint itself is safe. A leftover
// temporary file was never renamed, so it never was a checkpoint: Latest and
// List ignore it.
//
// # Recovery fails closed
//
// Latest returns the newest checkpoint, and only the newest. If its file
// cannot be read, does not decode (truncation, a checksum mismatch, a bad
// magic, a format version this build does not know) or holds another job or
// id than its name says, Latest returns an *UnreadableError naming the file,
// and so do Save and Acquire. It does not fall back to an older checkpoint:
// the sinks may already have committed the output of the unreadable one, and
// resuming before it would commit that output a second time. The way on is
// to restore the file (from a backup, or a newer shardflow for a newer
// format), or to start over with a new checkpoint directory and --overwrite.
// Older checkpoints are kept (DirConfig.Keep) for inspection with List and
// Load.
//
// # Concurrency
//
// A Dir may be used from several goroutines. One process at a time may write
// a job's directory (the runtime runs one coordinator per job); readers such
// as a CLI may call Latest, List and Load while it does, since Latest and
// List never modify the directory.
package checkpoint
