// Package s3out is the S3 output of the Parquet sink (issue 8, part 1): a
// parquet.Files that keeps a table's files on S3 or an S3-compatible store,
// exactly once, with files that roll by size and age rather than by
// checkpoint. jobs.TableSink chooses it for --out s3://bucket/prefix.
//
// # Seam
//
// The parquet sink writes a file through the small parquet.Files interface
// (Create a file of a partition, PreCommit, Commit, Recover, Close). The
// local implementation stays sinks/staging; this package is the S3 one.
// Only this package imports the AWS SDK (service/s3 with
// config.LoadDefaultConfig; the endpoint from AWS_ENDPOINT_URL_S3 or
// AWS_ENDPOINT_URL, and then path-style addressing through the SDK's
// UsePathStyle; see NewClient). A file is a parquet.SpanningFile: at a
// checkpoint the sink asks it whether it rolls; if not, the sink writes the
// open row group and hands the file the footer that would end it there.
//
// # Names
//
// Same Hive layout and names as sinks/staging:
// <prefix>/<table>/dt=.../hour=.../part-<run>-<id:08d>-<seq:04d>.parquet, where
// id is the checkpoint that opened the file (S3 fixes a multipart upload's key
// when it starts), so names are unique per run and deterministic within it:
// a retried CompleteMultipartUpload or commit-log put writes the same key.
// The commit log is objects under <prefix>/<table>/_shardflow/ with the entry
// format of sinks/staging (commit-<run>-<ckpt>.parquet.json, a
// staging.LogEntry, and run-<run>.parquet.json, written before a run's first
// upload). One difference: an entry lists the files that its checkpoint
// completed, which may have been opened, and so named, by an earlier
// checkpoint.
//
// # A file that spans checkpoints
//
// A file is one multipart upload. Files roll by size (Config.RollSize, 128
// MiB: checked after each row group) and age (Config.RollAge, 15 min:
// checked at checkpoints), not by checkpoint. The bytes the encoder writes
// are buffered and uploaded as a part once Config.PartSize (8 MiB) wait;
// parts need not end on row groups. A file that rolls gets its footer and
// the rest of its bytes as its last part (any size), and its upload is
// completed by the Commit of that checkpoint, after the log entry that lists
// it. A file that stays open gets its open row group written at the
// checkpoint; the waiting bytes go up as a part when they are at least 5
// MiB, and what is left, followed by the footer that would end the file
// there (the serialized FileMetaData of the row groups written so far, its
// length and PAR1), goes up as a temporary object
// <prefix>/<table>/_shardflow/tmp/<file path>.<id:08d>.tail (re-used while
// nothing is written to the file). The handle records, per open file: path,
// upload id, the parts (number, ETag, size), the tail object and how many of
// its bytes are data, and the size; it stays small however many row groups
// the file has. Commit deletes the tail objects that only older checkpoints
// name.
//
// After a restore the file is not resumed: Recover finishes it as the
// checkpoint left it, uploading the tail object (the bytes after the parts,
// then the footer) as the last part (read back with a GET rather than
// copied with UploadPartCopy, which gofakes3 lacks), and completes it; later
// rows go to new files. So a crash costs at most
// one extra, shorter file per open partition, never one per checkpoint.
// Such a file, and one the sink closes at a checkpoint with no row since the
// previous one, has no page index (the footer is the one taken at the
// checkpoint); the rows and statistics are all there. When a job ends with
// a final checkpoint, Close finishes the open files in the same way, so a
// finished job's output is all visible.
//
// # Recovery
//
// Recover reads the log (staging.ErrUnaccounted unless Overwrite, and
// pipeline.ErrFenced, as staging does), re-commits the restored handle
// (completing its done files, finishing its open ones, idempotently: an
// upload that is gone is fine when its object is there with the recorded
// size), checks that the accounted entries' files exist (staging.ErrMissing
// unless Overwrite), then lists the multipart uploads and temporary objects
// under the table and aborts or deletes those of the job's runs (the
// restored handle owns none any more). Close aborts the uploads that no
// pre-commit lists.
//
// # Test server
//
// github.com/johannesboyne/gofakes3 v1.2.0 in-process on 127.0.0.1 (s3rver
// 3.7.1 lacks AbortMultipartUpload). It routes ListMultipartUploads,
// AbortMultipartUpload, UploadPart and ListParts; it ignores
// x-amz-copy-source on UploadPart, hence the tail is re-read, not copied. It
// does not enforce S3's 5 MiB minimum part, so the tests check part sizes
// themselves.
package s3out
