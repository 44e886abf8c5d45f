package jobs

import (
	"time"

	"github.com/shardflow/shardflow/expr"
	"github.com/shardflow/shardflow/operators"
	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sinks/parquet"
	"github.com/shardflow/shardflow/sources/generator"
	"github.com/shardflow/shardflow/windows"
)

// Clickstream counts a website's clickstream per page and minute of event
// time: events, page views, add-to-carts, purchases, revenue and unique
// users, into the Parquet table page_stats. Events too late for their
// minute (their shard's event time had passed it by more than 10 s) go
// whole, decoded, to the table late_events, partitioned by their ts.
//
// Input: JSON events with event_id, user_id, session_id, event_type
// (page_view, add_to_cart, purchase), page, referrer, ts (RFC 3339 or epoch
// milliseconds) and price (on add_to_cart and purchase), the schema
// generator.ClickstreamSchema describes. Events may be up to 10 s out of order.
var Clickstream = Definition{
	Name:    "clickstream",
	Summary: "per page and minute: events, page views, add-to-carts, purchases, revenue, unique users -> page_stats",
	Tables:  []string{"page_stats", "late_events"},
	Build:   buildClickstream,
}

func buildClickstream(env Env) (*pipeline.Job, error) {
	if err := env.Validate(); err != nil {
		return nil, err
	}
	out, err := standardOutputs(env, "page_stats")
	if err != nil {
		return nil, err
	}
	late, err := TableSink(env, parquet.Config{Table: "late_events", PartitionBy: "ts"})
	if err != nil {
		return nil, err
	}
	is := func(t string) expr.Predicate { return expr.Eq("event_type", t) }
	return pipeline.New("clickstream").
		From(env.Source).
		Decode(operators.JSON(generator.ClickstreamSchema, operators.JSONOptions{Required: []string{"ts"}})).
		Watermark("ts", 10*time.Second).
		MaxAhead(time.Hour). // an event stamped over an hour after it reached the stream is late: a wild clock
		KeyBy("page").
		Window(windows.Tumbling(time.Minute).Aggregate(
			windows.Count("events"),
			windows.CountIf("page_views", is(generator.PageView)),
			windows.CountIf("add_to_cart", is(generator.AddToCart)),
			windows.CountIf("purchases", is(generator.Purchase)),
			windows.SumIf("revenue", "price", is(generator.Purchase)),
			windows.CountDistinct("unique_users", "user_id"),
		).LateRows()).
		To(out.table).
		SideOutput(windows.LateSide, late).
		DeadLetters(out.dead).
		Checkpoints(out.ckpts, env.CheckpointInterval).
		Build(append([]pipeline.Option{pipeline.WithLogger(logger(env.Logger))}, env.Options...)...)
}
