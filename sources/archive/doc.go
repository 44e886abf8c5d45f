// Package archive reads JSON-lines archives, plain or gzip, from local files
// (file://GLOB or a path glob) or from an S3 prefix (s3://BUCKET/PREFIX),
// such as a Kinesis Data Firehose delivery to S3 (keys YYYY/MM/DD/HH/...), so
// that a job can replay data older than a stream's retention.
//
// Each file or object is one shard, named by its path or key and read from
// start to end in key order; the source is bounded. A record is a line, as
// in sources/file (an empty line is skipped, a CRLF line loses its CR, a
// final line without its newline is a record since an archive does not
// grow). A line longer than MaxLineBytes is a dead letter naming the object
// and the offset past the line, and reading goes on.
//
// Positions are offsets in the decompressed bytes of the object. A shard
// resumed from a checkpoint reopens the object and skips to its offset: for
// a plain local file that is a seek; for gzip (a key or path ending in .gz)
// and for S3 the bytes before it are read (S3: a ranged GET for plain
// objects, the whole stream for gzip) and decompressed again, so resuming in
// the middle of a gzip object costs as much CPU as reading it up to there.
//
// A damaged gzip stream (bad header, checksum, truncated) fails the shard
// with an error naming the object and the decompressed offset reached: the
// records before it have been delivered, the checkpoint keeps its position,
// and the job stops rather than skipping an unknown number of records.
//
// Identity: the checkpoint records the URL and every object's key, size and
// tag (the S3 ETag; for a local file a CRC-32C of its first 4 KiB). Resume
// refuses, before any record is read, a listing that differs in any object
// (added, gone, resized, re-tagged), in one line that names the first
// difference and says what to do.
package archive
