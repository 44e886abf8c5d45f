// Package operators holds the shard-local stages of a job: JSON decodes raw
// source records into a declared Arrow schema, Filter keeps the rows an
// expr.Predicate matches, Project selects and reorders columns, Rename
// renames one.
//
// The runtime fuses these operators in one goroutine per shard. They work a
// batch at a time and column at a time: the JSON decoder walks each record's
// keys with sonic's Preorder visitor straight into reused Arrow builders (no
// struct, no map, no allocation per record), and Filter evaluates its
// predicate over whole columns and gathers the kept rows through a selection
// vector.
//
// Records the decoder cannot read are not errors of the job: they leave as
// dead letters on pipeline.DeadLetterSide with the source, shard, position,
// reason and the unchanged payload, while the rest of their batch goes on.
package operators
