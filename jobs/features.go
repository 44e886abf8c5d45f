package jobs

import (
	"context"
	"time"

	"github.com/shardflow/shardflow/expr"
	"github.com/shardflow/shardflow/operators"
	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sinks/featurestore"
	"github.com/shardflow/shardflow/sinks/featurestore/stores"
	"github.com/shardflow/shardflow/sources/generator"
	"github.com/shardflow/shardflow/windows/tiles"
)

// UserFeatures is the feature view of the features job: per user, the
// events, purchases and revenue of the hour that ends with the minute of the
// user's latest event, the events of the day likewise, and the page and time
// of that latest event.
var UserFeatures = featurestore.View{
	Name:   "user_features",
	Entity: "user_id",
	Features: []featurestore.Feature{
		{Name: "events_1h", Type: featurestore.Int64},
		{Name: "purchases_1h", Type: featurestore.Int64},
		{Name: "revenue_1h", Type: featurestore.Float64},
		{Name: "events_24h", Type: featurestore.Int64},
		{Name: "last_page", Type: featurestore.String},
		{Name: "last_event_ts", Type: featurestore.Timestamp},
	},
}

// onlineSide is the side on which the features job emits its online rows.
const onlineSide pipeline.Side = "online"

// Features computes UserFeatures from the clickstream input (the input of
// Clickstream) out of one-minute tiles per user (see windows/tiles):
//   - online, into the feature store of Env.Features, updated with every
//     batch and put at every checkpoint, never going back in time;
//   - offline, into the Parquet table user_features: one row per user and
//     minute in which the user had events, with the features as of the end of
//     that minute (window_end), for point-in-time-correct training sets.
//
// A user's online row is the offline row of the minute of its latest event.
var Features = Definition{
	Name:    "features",
	Summary: "per user: events/purchases/revenue of the last hour, events of the last day, last page -> online store + user_features",
	Tables:  []string{"user_features"},
	View:    &UserFeatures,
	Build:   buildFeatures,
}

func buildFeatures(env Env) (*pipeline.Job, error) {
	if err := env.Validate(); err != nil {
		return nil, err
	}
	url := env.Features
	if url == "" {
		url = stores.Default
	}
	out, err := standardOutputs(env, "user_features")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, err := stores.Open(ctx, url, UserFeatures)
	if err != nil {
		return nil, err
	}
	online, err := featurestore.NewSink(featurestore.SinkConfig{View: UserFeatures, Store: store, EventTime: "last_event_ts", Revision: tiles.ColRevision})
	if err != nil {
		store.Close() //nolint:errcheck // the config error is the one to report
		return nil, err
	}
	buy := expr.Eq("event_type", generator.Purchase)
	job, err := pipeline.New("features").
		From(env.Source).
		Decode(operators.JSON(generator.ClickstreamSchema, operators.JSONOptions{Required: []string{"ts", "user_id"}})).
		Watermark("ts", 10*time.Second).
		MaxAhead(time.Hour). // an event stamped over an hour after it reached the stream is late: a wild clock
		KeyBy("user_id").
		Window(tiles.Every(time.Minute).Features(
			tiles.Count("events_1h", time.Hour),
			tiles.CountIf("purchases_1h", time.Hour, buy),
			tiles.SumIf("revenue_1h", "price", time.Hour, buy),
			tiles.Count("events_24h", 24*time.Hour),
			tiles.Last("last_page", "page"),
			tiles.LastTime("last_event_ts"),
		).Online(onlineSide)).
		To(out.table).
		SideOutput(onlineSide, online).
		DeadLetters(out.dead).
		Checkpoints(out.ckpts, env.CheckpointInterval).
		Build(append([]pipeline.Option{pipeline.WithLogger(logger(env.Logger))}, env.Options...)...)
	if err != nil {
		online.Close(context.Background()) //nolint:errcheck // the build error is the one to report
		return nil, err
	}
	return job, nil
}
