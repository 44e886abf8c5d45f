// Package jsonl provides a JSON-lines file sink, shardflow's sink for dead
// letters: each checkpoint that has rows commits one file
//
//	<Dir>/part-<run>-<ckpt:08d>-<seq:04d>.jsonl
//
// with one JSON object per row, keyed by the batch's column names. It works
// for any schema; with pipeline.DeadLetterSchema a line reads
//
//	{"source":"kinesis","shard":"shardId-000","position":"4959.../2","error":"json: ...","payload":"{\"ts\":..."}
//
// Rows are encoded by package sinks/rowjson, as sinks/kinesis encodes them:
// binary values (the payload) are written as a string when they are valid
// UTF-8, and otherwise base64-encoded under the column's name + "_base64";
// timestamps are RFC 3339 strings in UTC with the unit's precision; NaN and
// infinities are null.
//
// Like sinks/parquet the sink is a pipeline.Committer built on sinks/staging:
// rows go to a hidden staged file, PreCommit fsyncs it, Commit records it in
// the commit log <Dir>/_shardflow/ and renames it, and Recover commits the
// latest checkpoint's handle again and deletes the job's staged files that
// no checkpoint owns (another job's in the same directory are left alone). The run id in the name keeps another run from overwriting the file;
// Recover refuses dead letters of the job that its checkpoints do not account
// for, or that went missing, unless the job runs with Overwrite. Close
// deletes what was not pre-committed.
package jsonl
