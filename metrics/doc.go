// Package metrics is shardflow's Prometheus implementation of the runtime's
// pipeline.Metrics hook and of the Kinesis source's per-shard kinesis.Metrics
// hook, plus a small /metrics HTTP server.
//
// One *Metrics serves one job: New registers every collector (namespace
// "shardflow", constant label job) into the Registerer it is given, and the
// same value is passed to pipeline.WithMetrics and to the Kinesis source's
// Config.Metrics. Nothing is global; use a fresh prometheus.Registry per
// process (or per test).
//
//	reg := prometheus.NewRegistry()
//	m, err := metrics.New(reg, "clickstream")
//	ln, err := metrics.Listen(addr) // before any work: a bad address fails now
//	g.Go(func() error { return metrics.Serve(ctx, ln, reg) })
//	src, err := kinesis.New(ctx, kinesis.Config{..., Metrics: m})
//	job, err := pipeline.New("clickstream").From(src)....Build(pipeline.WithMetrics(m))
//
// # Records in: runtime versus source
//
// Two hooks count records, and they count different things, so they feed
// different series:
//
//   - shardflow_records_in_total and shardflow_bytes_in_total{shard} are fed
//     only by the runtime's ShardRead, called for every raw batch of every
//     source (Kinesis, file, generator) when the shard task takes it. Bytes are
//     the batch's payload bytes. Use these for throughput dashboards; they mean
//     the same thing for every source.
//   - shardflow_kinesis_user_records_total and
//     shardflow_kinesis_user_bytes_total{shard} are fed only by the Kinesis
//     source's RecordsIn, called when a GetRecords answer or fan-out event has
//     been deaggregated, before the batch reaches the shard task. For Kinesis
//     they track records_in_total closely; a gap shows records read but not yet
//     taken by the runtime.
//
// # Checkpoints and watermark
//
// shardflow_checkpoints_total{result="ok"|"failed"} counts every checkpoint
// attempt; shardflow_checkpoint_duration_seconds, shardflow_last_checkpoint_id
// and the completion time behind shardflow_checkpoint_age_seconds follow
// successful checkpoints only. checkpoint_age_seconds is computed at scrape
// time: seconds since the last successful checkpoint completed, or since New
// when none has completed yet (so an alert on a large age also catches a job
// that never checkpoints). shardflow_watermark_seconds is the job's event-time
// watermark in Unix seconds; it is absent until the first finite watermark and
// keeps its last finite value when a bounded input ends with pipeline.MaxTime.
//
// # Write load and hot keys
//
// The Kinesis source reports each shard's write load (kinesis.LoadMetrics),
// measured from the records' arrival timestamps over the last minute of
// arrival time, so that a replay shows the rate the data was written at:
// shardflow_kinesis_shard_write_bytes_per_second{shard},
// shardflow_kinesis_shard_write_records_per_second{shard} and
// shardflow_kinesis_shard_write_utilization{shard, limit="bytes"|"records"}
// (a share of 1 MiB/s or 1,000 records/s; alert on > 0.8). The heaviest
// partition keys are bounded to five series per shard without the key:
// shardflow_kinesis_hot_key_share{shard, rank="1".."5"} is the share of the
// shard's records its rank-th key carried over the last five minutes of
// arrival time; the keys themselves are logged by the source and returned by
// its Load method, since a key label would make a series per key. Every one
// of these goes with the shard on ShardDone.
package metrics
