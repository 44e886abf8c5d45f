package jobs

import (
	"fmt"
	"time"

	"github.com/shardflow/shardflow/expr"
	"github.com/shardflow/shardflow/operators"
	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/pipeline/checkpoint"
	"github.com/shardflow/shardflow/sinks/parquet"
	"github.com/shardflow/shardflow/sources/generator"
	"github.com/shardflow/shardflow/windows"
)

// SessionGap is the inactivity gap that ends a session of the sessions job.
const SessionGap = 30 * time.Minute

// Sessions groups the clickstream input (the input of Clickstream) into
// sessions per user_id on event time, ended by SessionGap of inactivity, into
// the Parquet table sessions, partitioned by session_start: per session its
// first and last event time, its events, page views, add-to-carts, purchases
// and revenue, the page of its first event, and whether it had a purchase.
// A session is written once the watermark (event time less 10 s) has passed
// its last event by the gap.
var Sessions = Definition{
	Name:    "sessions",
	Summary: "per user session (30 min gap): events, page views, add-to-carts, purchases, revenue, landing page, converted -> sessions",
	Tables:  []string{"sessions"},
	Build:   buildSessions,
}

func buildSessions(env Env) (*pipeline.Job, error) {
	if err := env.Validate(); err != nil {
		return nil, err
	}
	table, err := TableSink(env, parquet.Config{Table: "sessions", PartitionBy: windows.ColSessionStart})
	if err != nil {
		return nil, err
	}
	dead, err := DeadLetterSink(env)
	if err != nil {
		return nil, err
	}
	ckpts, err := checkpoint.NewDir(env.CheckpointDir, checkpoint.DirConfig{Logger: env.Logger})
	if err != nil {
		return nil, fmt.Errorf("jobs: checkpoints: %w", err)
	}
	is := func(t string) expr.Predicate { return expr.Eq("event_type", t) }
	return pipeline.New("sessions").
		From(env.Source).
		Decode(operators.JSON(generator.ClickstreamSchema, operators.JSONOptions{Required: []string{"ts", "user_id"}})).
		Watermark("ts", 10*time.Second).
		MaxAhead(time.Hour). // an event stamped over an hour after it reached the stream moves no watermark
		KeyBy("user_id").
		Window(windows.Session(SessionGap).Aggregate(
			windows.Count("events"),
			windows.CountIf("page_views", is(generator.PageView)),
			windows.CountIf("add_to_cart", is(generator.AddToCart)),
			windows.CountIf("purchases", is(generator.Purchase)),
			windows.SumIf("revenue", "price", is(generator.Purchase)),
			windows.First("landing_page", "page"),
			windows.AnyIf("converted", is(generator.Purchase)),
		)).
		To(table).
		DeadLetters(dead).
		Checkpoints(ckpts, env.CheckpointInterval).
		Build(append([]pipeline.Option{pipeline.WithLogger(logger(env.Logger))}, env.Options...)...)
}
