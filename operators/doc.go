// Package operators holds the shard-local stages of a job: JSON decodes raw
// source records into a declared Arrow schema, Filter keeps the rows an
// expr.Predicate matches, Project selects and reorders columns, Rename
// renames one, and Enrich joins each row with a static table (CSVTable here,
// a Parquet file in operators/parquettable) by key.
//
// The runtime fuses these operators in one goroutine per shard. They work a
// batch at a time and column at a time: the JSON decoder reads each record in
// one validating pass of its own scanner, straight into column buffers that
// are reused from batch to batch (no struct, no map, no allocation per
// record), and Filter evaluates its predicate over whole columns and gathers
// the kept rows through a selection vector.
//
// The scanner replaced a JSON library after measurement: walking an object's
// keys with bytedance/sonic's ast.Preorder (the fastest of sonic, goccy/go-json,
// buger/jsonparser and valyala/fastjson here) decoded about 1.5 million
// clickstream events per second per core, the scanner about 2.8 million; see
// BenchmarkDecodeJSONCandidates. FuzzScanner checks it against encoding/json.
//
// Records the decoder cannot read are not errors of the job: they leave as
// dead letters on pipeline.DeadLetterSide with the source, shard, position,
// reason and the unchanged payload, while the rest of their batch goes on.
package operators
