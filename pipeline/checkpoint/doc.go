// Package checkpoint stores a job's checkpoints as files in a local directory,
// implementing pipeline.CheckpointStore.
//
// # Layout
//
//	<root>/<job>/chk-<id, 20 digits>.ckpt   a checkpoint, in the ckptfmt format
//	<root>/<job>/.chk-<id>-<random>.tmp    a Save in progress, or left by a crash
//	<root>/<job>/LOCK                      flocked by the process that holds the job
//	<root>/<job>/EPOCH                     the job's current fencing epoch
//	<root>/<job>/.chk-epoch-<random>.tmp   an EPOCH write in progress, or left by a crash
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
// # Lock and fencing epoch
//
// Only the process that holds a job saves its checkpoints. Acquire takes an
// exclusive flock(2) on the job's LOCK file, held by an open file until
// Release or the end of the process (a crash releases it too), and writes
// the holder's pid and start into the file, so that a second process's
// Acquire fails with an error (wrapping pipeline.ErrStoreLocked) that says
// who holds it. The lock belongs to the open file, so two Dirs of one process
// on the same root exclude each other too. Then Acquire writes the next
// epoch to the EPOCH file, durably (temp file, fsync, rename, fsync): one more
// than the file's and than the newest checkpoint's, so that the epoch grows
// even if EPOCH was lost. EPOCH is one checksummed, versioned line of text; a
// damaged one fails Acquire, and is never read as epoch 0.
//
// Save refuses a job this Dir has not acquired (ErrNotAcquired), and, with an
// error wrapping pipeline.ErrFenced, a checkpoint whose Epoch is not the one
// in EPOCH, which it reads again on every Save. It also checks that the file
// at <job>/LOCK is still the file it locked: if the checkpoint directory was
// removed or replaced while the job ran, another process may hold a new LOCK
// file, possibly with an epoch that starts again at 1, and the old process
// must never save (and so never commit) again. Save checks again after its
// write: a directory replaced during the write (whose paths then led into the
// new directory) makes it return ErrFenced although the file was written.
//
// flock is advisory and local: it holds between processes of one machine,
// not across a network file system that does not implement it.
//
// # Concurrency
//
// A Dir may be used from several goroutines. One process at a time writes a
// job's directory, the one holding its lock; readers such as a CLI may call
// Latest, List and Load without the lock while it does, since they never
// modify the directory.
package checkpoint
