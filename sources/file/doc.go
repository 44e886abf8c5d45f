// Package file is a pipeline.Source of JSON-lines files matched by a glob.
//
// Every matched regular file is one shard, named by its path as matched and
// cleaned (directories among the matches are skipped); shards have no
// parents. Each non-empty line is one record, passed on undecoded: a decoding
// operator dead-letters the ones that are not JSON.
//
// A record's Position.N is the byte offset just past its line (past the
// newline), so resuming after N seeks to N; pipeline.Earliest, which the
// runtime gives to files that appear after the job's first listing, is the
// start of the file, as the zero Position is. Empty lines are skipped but
// still advance the offset; one trailing carriage return is dropped from
// every line (CRLF files).
//
// A line is a record only once its newline is written. A final line without
// one is held back: the shard's position stays before it, and a later run
// (or a following reader, once the newline arrives) reads it. A file whose
// last line never gets its newline therefore never delivers that line; end
// such files with a newline.
//
// A line longer than Config.MaxLineBytes (not counting its newline, nor a
// CRLF line's carriage return) never reaches the decoder and does not fail
// the job: it is skipped without being buffered and becomes a dead letter
// on pipeline.DeadLetterSide, in file order, with the error "line of N bytes
// is longer than the limit of M bytes (MaxLineBytes)", its position (the
// offset past its newline) and its first min(MaxLineBytes, 64 KiB) bytes as
// payload. A job without a DeadLetters sink fails on it with that error.
//
// # Bounded runs and following
//
// By default the source is bounded: a reader that reaches the end of its file
// returns pipeline.ErrBoundReached, so the shard stays open in the checkpoint
// and a later run of the job reads the lines appended since, from the
// shard's position. Shards are the files matched when the source was created;
// a later run lists the glob again, and files new to the checkpoint are new
// shards, read from their start.
//
// With Config.Follow the source is unbounded, as tail -f: at the end of its
// file a reader waits Config.PollInterval and reads what was appended, and
// returns no batch (and reports itself idle, pipeline.IdleReporter, so that
// a file nobody writes to does not hold the watermark back) while nothing is
// new. Shards lists the glob at every call, so files created later become
// shards. A followed file that becomes shorter than what was read is refused
// (truncated), as is a path that names another file now; a followed file that
// is deleted ends its shard (pipeline.ErrShardEnd) once what it held is read,
// and its identity is forgotten, so that a file created later at its path is
// a new file, read from its start.
//
// # Identity
//
// The source implements pipeline.Identifier, so that a checkpoint taken of
// other files is refused instead of resumed at byte offsets inside other
// content. When a shard is first opened the source records, from the same
// descriptor, the file's device and inode and a CRC-32C of its first
// min(4096, size) bytes; a checkpoint records the glob and these identities as
// JSON:
//
//	{"v":1,"glob":"data/*.jsonl","files":{"data/a.jsonl":{"dev":2049,"ino":1234,"head_len":4096,"head_crc":3735928559}}}
//
// Resume refuses another glob, and a file that exists with another device or
// inode (replaced, or renamed over, even with the same bytes), that is now
// shorter than its recorded head, or whose head has changed; every later
// OpenShard checks again on the descriptor it opens. A file that grew is the
// same file and is read on. A checkpointed file that no longer exists is not
// an error: it was rotated away, and its shard ends at once (the source has
// no logger; the job's shard statistics show it finished). Rotation by
// renaming (app.log to app.log.1 and a new app.log) is not supported: name
// each file once (clicks-2026-12-02T05.jsonl) and delete old files instead.
package file
