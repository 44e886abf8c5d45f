// Package gostreams plugs shardflow's sources, stages and sinks into
// github.com/reugn/go-streams pipelines.
//
// Elements are *pipeline.Batch values, thousands of rows each, so one channel
// send serves a whole batch and go-streams' backpressure still holds;
// pipeline.Barrier values travel on the same channels, in order, and flows
// pass them through. Each adapter takes a context, stops
// and closes its output when it ends, and reports its first error from Err.
//
// Do not feed batches to go-streams' FanOut (it does not Retain them), to Map
// with parallelism above 1 (it reorders) or to its processing-time windows:
// use shardflow's event-time windows in a pipeline.Job instead. These adapters
// give at-least-once processing; checkpoints and exactly-once output need a
// pipeline.Job.
package gostreams
