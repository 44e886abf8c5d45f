// Package jobs holds shardflow's ready-made jobs and what the CLI needs to run
// them: a registry of job definitions, source specifications
// ("generator", "file://GLOB", "kinesis://STREAM") and the wiring of the
// default local outputs (Parquet tables, dead letters, checkpoints).
package jobs
