// Package file is a pipeline.Source of JSON-lines files matched by a glob.
//
// Every matched regular file is one shard, named by its path as matched and
// cleaned (directories among the matches are skipped); shards have no parents
// and the source is bounded. Each non-empty line is one record, passed on
// undecoded: a decoding operator dead-letters the ones that are not JSON.
//
// A record's Position.N is the byte offset just past its line (past the
// newline), so resuming after N seeks to N. Empty lines are skipped but still
// advance the offset; a final line without a trailing newline is a record (if
// its newline is appended later, resuming after it skips that newline); one
// trailing carriage return is dropped from every line (CRLF files). A line
// longer than Config.MaxLineBytes is not lost and does not fail the job: it
// becomes one record holding its first MaxLineBytes bytes, which the decoder
// dead-letters with the line's position.
package file
