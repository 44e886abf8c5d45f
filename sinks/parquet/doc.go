// Package parquet provides shardflow's Parquet table sink: it writes a job's
// output into Hive-partitioned Parquet files,
//
//	<Dir>/<Table>/dt=YYYY-MM-DD/hour=HH/part-<run>-<ckpt:08d>-<seq:04d>.parquet
//
// with the partition taken from a timestamp column (window_start by default,
// in UTC), exactly once through checkpoints and restarts. The table directory
// also holds the commit log, <Dir>/<Table>/_shardflow/, which
// read_parquet('<Dir>/<Table>/**/*.parquet', hive_partitioning = true) does
// not see.
//
// The sink is a pipeline.Committer. Write routes each row to its partition's
// staged file (a hidden ".part-....parquet.pending" that readers' globs skip)
// and cuts one row group whenever a partition has buffered Config.RowGroupRows
// rows. PreCommit writes the last row groups and the footers, fsyncs and closes
// the files and returns a handle naming them; Commit renames them to their
// final names, after recording them in the commit log; Recover commits the
// latest checkpoint's handle again and deletes staged files that no
// checkpoint owns. File names carry the run id, so no other run can produce
// them, and otherwise depend only on the checkpoint, the partition and a
// sequence number, so a replayed commit never makes a second copy. Recover
// refuses a table that holds output of the job that its checkpoints do not
// account for (another run's, a lost checkpoint's) or that lost a committed
// file, unless the job runs with Overwrite; see package sinks/staging, where
// the staging and the commit log live. A retention job that drops old
// partitions makes the next start refuse, naming a dropped file: start it
// once with Overwrite, which forgets the dropped files.
//
// Close deletes the staged files that were not pre-committed and leaves the
// pre-committed ones: their checkpoint may already be persisted, and Recover
// commits or deletes them on the next start.
//
// That is the local store of the files. The sink writes them through the
// Files interface, so WithFiles can put them elsewhere: package sinks/s3out
// keeps them on S3, as multipart uploads whose files are SpanningFiles that
// stay open over checkpoints and roll by size and age. At PreCommit such a
// file that does not roll gets its open row group written and the footer
// that would end it there (from the encoder's metadata of the row groups so
// far); the sink keeps writing it after the checkpoint.
//
// Bind maps Arrow types to Parquet: utf8 to STRING, binary to BYTE_ARRAY,
// int32/int64 to INT32/INT64, float32/float64 to FLOAT/DOUBLE, bool to
// BOOLEAN, date32 to DATE, timestamp[ms|us|ns] to TIMESTAMP of the same unit
// (isAdjustedToUTC when the Arrow type has a time zone). Nullable fields become
// OPTIONAL columns, the others REQUIRED. Other types fail at Bind.
package parquet
