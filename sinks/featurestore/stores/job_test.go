package stores_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/shardflow/shardflow/expr"
	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/operators"
	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/pipeline/checkpoint"
	"github.com/shardflow/shardflow/sinks/featurestore"
	"github.com/shardflow/shardflow/sinks/featurestore/stores"
	"github.com/shardflow/shardflow/sinks/featurestore/storetest"
	"github.com/shardflow/shardflow/sources/generator"
	"github.com/shardflow/shardflow/windows"
)

// The view the test job writes: per user and hour of event time.
var hourly = featurestore.View{
	Name:   "user_hour",
	Entity: "user_id",
	Features: []featurestore.Feature{
		{Name: "events", Type: featurestore.Int64},
		{Name: "revenue", Type: featurestore.Float64},
		{Name: "last_ts", Type: featurestore.Timestamp},
	},
}

// runJob runs the generator's first events (over 2 shards) through hourly
// per-user windows into the store at url, checkpointing into ckpt.
func runJob(t *testing.T, url, ckpt string, events int64) {
	t.Helper()
	ctx := context.Background()
	src, err := generator.New(generator.Config{Shards: 2, Events: events, Seed: 7, BatchSize: 500})
	if err != nil {
		t.Fatal(err)
	}
	store, err := stores.Open(ctx, url, hourly)
	if err != nil {
		t.Fatal(err)
	}
	sink, err := featurestore.NewSink(featurestore.SinkConfig{View: hourly, Store: store, EventTime: "last_ts", Revision: "events", PutRows: 300})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := checkpoint.NewDir(ckpt, checkpoint.DirConfig{})
	if err != nil {
		t.Fatal(err)
	}
	job, err := pipeline.New("user_hour").
		From(src).
		Decode(operators.JSON(generator.ClickstreamSchema, operators.JSONOptions{Required: []string{"ts"}})).
		Watermark("ts", 10*time.Second).
		KeyBy("user_id").
		Window(windows.Tumbling(time.Hour).Aggregate(
			windows.Count("events"),
			windows.SumIf("revenue", "price", expr.Eq("event_type", generator.Purchase)),
			windows.Max("last_ts", "ts"),
		)).
		To(sink).
		Checkpoints(dir, time.Hour).
		Build(pipeline.WithParallelism(2))
	if err != nil {
		t.Fatal(err)
	}
	if err := job.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

// contents reads every user the generator's events name from the store.
func contents(t *testing.T, url string, users []string) []string {
	t.Helper()
	s, err := stores.Open(context.Background(), url, hourly)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return storetest.Contents(t, s, users)
}

// A job's rows reach every store alike; running the job again from scratch
// (a replay with a fresh checkpoint directory) and over an older prefix of
// the same events changes nothing, since no row is older than what is stored.
func TestJobToStores(t *testing.T) {
	dir := t.TempDir()
	urls := []string{"sqlite://" + filepath.Join(dir, "features.db"), "redis://" + testenv.Redis(t) + "/5", dynamoURL(t, "job")}
	const events = 10_000
	var users []string
	for u := range generator.NumUsers {
		users = append(users, fmt.Sprintf("u%04d", u))
	}
	var first []string
	for i, url := range urls {
		runJob(t, url, filepath.Join(dir, fmt.Sprint("ckpt-", i)), events)
		got := contents(t, url, users)
		if len(got) == 0 {
			t.Fatalf("%s: no rows for users %s..%s; the generator's user ids are not what the test assumes", url, users[0], users[len(users)-1])
		}
		if first == nil {
			first = got
		} else if !slices.Equal(got, first) {
			t.Fatalf("%s holds %d rows, %s %d, or they differ", url, len(got), urls[0], len(first))
		}
		for _, run := range []struct {
			name   string
			events int64
		}{{"replay", events}, {"prefix", events / 2}} {
			runJob(t, url, filepath.Join(dir, fmt.Sprint(run.name, i)), run.events)
			if again := contents(t, url, users); !slices.Equal(again, first) {
				t.Fatalf("%s: the %s changed the store: %s", url, run.name, firstDiff(again, first))
			}
		}
	}
}

func firstDiff(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("%s, was %s", got[i], want[i])
		}
	}
	return fmt.Sprintf("%d rows, were %d", len(got), len(want))
}
