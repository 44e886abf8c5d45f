package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/operators"
	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sinks/featurestore"
	"github.com/shardflow/shardflow/sinks/featurestore/stores"
	"github.com/shardflow/shardflow/sources/generator"
	"github.com/shardflow/shardflow/windows/tiles"
)

// featuresInput is the generator input of the features tests: 20 events per
// user over about 7 hours of event time, with malformed records.
func featuresInput(events int64) generator.Config {
	return generator.Config{Shards: 4, Events: events, Seed: 5, BadEvery: 5000, EventInterval: 500 * time.Millisecond}
}

// runFeatures runs the features job on events of featuresInput into out,
// ckpt and the store at url, checkpointing every interval.
func runFeatures(t *testing.T, events int64, out, ckpt, url string, interval time.Duration) pipeline.Stats {
	t.Helper()
	src, err := generator.New(featuresInput(events))
	if err != nil {
		t.Fatal(err)
	}
	job, err := Features.Build(Env{Source: src, OutDir: out, CheckpointDir: ckpt, CheckpointInterval: interval,
		Features: url, Options: []pipeline.Option{pipeline.WithParallelism(2)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := job.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return job.Stats()
}

// refEvent is a clickstream event as the test decodes it, apart from the job.
type refEvent struct {
	User, Type, Page string
	Price            float64
	Ts               int64
}

// refEvents decodes the features input's events with encoding/json.
func refEvents(t *testing.T, events int64) map[string][]refEvent {
	t.Helper()
	return refEventsOf(t, featuresInput(events))
}

// refEventsOf decodes, by user, the well-formed events of the generator
// configured by cfg with encoding/json, in the order each shard holds them.
func refEventsOf(t *testing.T, cfg generator.Config) map[string][]refEvent {
	t.Helper()
	ref, err := generator.NewReference(cfg)
	if err != nil {
		t.Fatal(err)
	}
	by := map[string][]refEvent{}
	for s := range ref.Config().Shards {
		for ev := range ref.Events(s) {
			if ev.Malformed {
				continue
			}
			var e struct {
				UserID    string   `json:"user_id"`
				EventType string   `json:"event_type"`
				Page      string   `json:"page"`
				Price     *float64 `json:"price"`
				TS        string   `json:"ts"`
			}
			if err := json.Unmarshal(ev.Data, &e); err != nil {
				t.Fatalf("event %s: %v", ev.Data, err)
			}
			ts, err := time.Parse(time.RFC3339Nano, e.TS)
			if err != nil {
				t.Fatal(err)
			}
			r := refEvent{User: e.UserID, Type: e.EventType, Page: e.Page, Ts: ts.UnixMilli()}
			if e.Price != nil {
				r.Price = *e.Price
			}
			by[r.User] = append(by[r.User], r)
		}
	}
	return by
}

// refFeatures are a user's features as of the end of the minute of tile,
// computed from its events directly: windows of event time [end-d, end).
func refFeatures(evs []refEvent, tile int64) []featurestore.Value {
	end := (tile + 1) * 60_000
	var n1h, buys, n24h int64
	var rev float64
	var last *refEvent
	for i := range evs {
		e := &evs[i]
		if e.Ts >= end {
			continue
		}
		if e.Ts >= end-3_600_000 {
			n1h++
			if e.Type == generator.Purchase {
				buys++
				rev += e.Price
			}
		}
		if e.Ts >= end-86_400_000 {
			n24h++
		}
		if last == nil || e.Ts >= last.Ts {
			last = e
		}
	}
	return []featurestore.Value{{Int: n1h}, {Int: buys}, {Float: rev}, {Int: n24h}, {Str: last.Page}, {Int: last.Ts}}
}

func latestTile(evs []refEvent) int64 {
	var hi int64 = math.MinInt64
	for _, e := range evs {
		hi = max(hi, e.Ts)
	}
	return hi / 60_000
}

// equalValues compares feature values, sums of floats within a rounding
// error (the job adds per minute, the reference per event).
func equalValues(got, want []featurestore.Value) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Null != w.Null || g.Int != w.Int || g.Str != w.Str || math.Abs(g.Float-w.Float) > 1e-9*max(1, math.Abs(w.Float)) {
			return false
		}
	}
	return true
}

// getRows reads users' rows from the store at url.
func getRows(t *testing.T, url string, users []string) []*featurestore.Row {
	t.Helper()
	ctx := context.Background()
	s, err := stores.Open(ctx, url, UserFeatures)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := s.Get(ctx, users)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// storeContents renders every user's row in the store at url, its
// last_event_ts in whole seconds as Feast's layout keeps it.
func storeContents(t *testing.T, url string, users []string) []string {
	t.Helper()
	rows := getRows(t, url, users)
	for _, r := range rows {
		if r != nil {
			r.Values[len(r.Values)-1].Int -= r.Values[len(r.Values)-1].Int % 1000
		}
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		if r != nil {
			out[i] = fmt.Sprintf("%s %d %d %+v", r.Entity, r.EventTime, r.Revision, r.Values)
		}
	}
	return out
}

// The features job gives every user the features computed from its events
// directly, alike in SQLite, Redis and DynamoDB, in shardflow's layout and in
// Feast's (where timestamps are whole seconds); its offline table has one
// row per user and minute with events, the reference's too, and each user's
// latest row equals its online one. A replay into the same stores, from
// scratch or of a prefix of the input, changes nothing.
func TestFeaturesJob(t *testing.T) {
	const events = 200_000
	dir := t.TempDir()
	ref := refEvents(t, events)
	users := slices.Sorted(func(yield func(string) bool) {
		for u := range ref {
			if !yield(u) {
				return
			}
		}
	})
	redis := testenv.Redis(t)
	testenv.DynaliteForSDK(t)
	urls := []string{"sqlite://" + filepath.Join(dir, "features.db"), "redis://" + redis + "/3", "dynamodb://features_job",
		"sqlite://" + filepath.Join(dir, "feast.db") + "?layout=feast&project=shop", "redis://" + redis + "/4?layout=feast&project=shop"}

	var first []string
	for i, url := range urls {
		out := filepath.Join(dir, fmt.Sprint("out", i))
		// Many checkpoints into SQLite; the network stores put each user once
		// (a job's commits are the SQLite run's concern), which keeps DynamoDB's
		// 2,000 puts a second within the test's time.
		interval := time.Hour
		if i == 0 {
			interval = 100 * time.Millisecond
		}
		st := runFeatures(t, events, out, filepath.Join(dir, fmt.Sprint("ckpt", i)), url, interval)
		if want := int64(events / 5000); st.DeadLetters != want {
			t.Errorf("%s: %d dead letters, want %d", url, st.DeadLetters, want)
		}
		got := storeContents(t, url, users)
		if first == nil {
			first = got
			checkOnline(t, url, users, ref)
			checkOffline(t, out, ref)
		} else if !slices.Equal(got, first) {
			t.Fatalf("%s differs from %s: %s", url, urls[0], firstDiff(got, first))
		}
	}
	for _, run := range []struct {
		name   string
		events int64
	}{{"replay", events}, {"prefix", events / 2}} {
		runFeatures(t, run.events, filepath.Join(dir, run.name+"-out"), filepath.Join(dir, run.name+"-ckpt"), urls[0], 100*time.Millisecond)
		if got := storeContents(t, urls[0], users); !slices.Equal(got, first) {
			t.Fatalf("the %s changed the store: %s", run.name, firstDiff(got, first))
		}
	}
}

func checkOnline(t *testing.T, url string, users []string, ref map[string][]refEvent) {
	t.Helper()
	rows := getRows(t, url, users)
	for i, u := range users {
		want := refFeatures(ref[u], latestTile(ref[u]))
		if rows[i] == nil || !equalValues(rows[i].Values, want) {
			t.Fatalf("%s: user %s has %+v, want %+v", url, u, rows[i], want)
		}
	}
}

func checkOffline(t *testing.T, out string, ref map[string][]refEvent) {
	t.Helper()
	rows := testenv.DuckDB(t, fmt.Sprintf(`SELECT user_id, epoch_ms(window_start) AS start, events_1h, purchases_1h, revenue_1h, events_24h, last_page,
		epoch_ms(last_event_ts) AS last_ts, revision FROM read_parquet('%s/user_features/**/*.parquet', hive_partitioning=true)`, out))
	want := 0
	for _, evs := range ref {
		tiles := map[int64]bool{}
		for _, e := range evs {
			tiles[e.Ts/60_000] = true
		}
		want += len(tiles)
	}
	if len(rows) != want {
		t.Fatalf("user_features has %d rows, want one per user and minute with events, %d", len(rows), want)
	}
	seen := map[string]bool{}
	for _, r := range rows {
		u, start := r["user_id"].(string), toInt64(r["start"])
		key := fmt.Sprint(u, start)
		if seen[key] {
			t.Fatalf("user %s has two rows for the minute at %d", u, start)
		}
		seen[key] = true
		got := []featurestore.Value{{Int: toInt64(r["events_1h"])}, {Int: toInt64(r["purchases_1h"])}, {Float: r["revenue_1h"].(float64)},
			{Int: toInt64(r["events_24h"])}, {Str: r["last_page"].(string)}, {Int: toInt64(r["last_ts"])}}
		if want := refFeatures(ref[u], start/60_000); !equalValues(got, want) {
			t.Fatalf("user %s at %d: %+v, want %+v", u, start, got, want)
		}
		if rev := toInt64(r["revision"]); rev != got[3].Int {
			t.Fatalf("user %s at %d: revision %d, want the events of the day, %d", u, start, rev, got[3].Int)
		}
	}
}

func toInt64(v any) int64 {
	switch x := v.(type) {
	case float64:
		return int64(x)
	case string:
		var n int64
		fmt.Sscan(x, &n)
		return n
	}
	panic(fmt.Sprintf("not a number: %T %v", v, v))
}

func firstDiff(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("%s, was %s", got[i], want[i])
		}
	}
	return strings.TrimSpace(fmt.Sprintf("%d rows, were %d", len(got), len(want)))
}

// With --out s3:// the features job writes the same user_features table to
// S3 as it writes locally.
func TestFeaturesJobOnS3(t *testing.T) {
	const events = 40_000
	dir := t.TempDir()
	srv := testenv.StartS3(t, "lake")
	srv.Env(t)
	runFeatures(t, events, filepath.Join(dir, "local"), filepath.Join(dir, "ckpt-local"), "sqlite://"+filepath.Join(dir, "a.db"), 100*time.Millisecond)
	runFeatures(t, events, "s3://lake/features", filepath.Join(dir, "ckpt-s3"), "sqlite://"+filepath.Join(dir, "b.db"), 100*time.Millisecond)
	srv.Download(t, "lake", "features/", filepath.Join(dir, "s3"))
	query := func(out string) string {
		return fmt.Sprint(testenv.DuckDB(t, fmt.Sprintf(
			"SELECT * FROM read_parquet('%s/user_features/**/*.parquet', hive_partitioning=true) ORDER BY window_start, user_id", out)))
	}
	if local, s3 := query(filepath.Join(dir, "local")), query(filepath.Join(dir, "s3")); local != s3 || len(local) < 1000 {
		t.Fatalf("user_features on S3 differs from the local table (%d and %d bytes as text)", len(s3), len(local))
	}
}

// A stage's side without a sink, and a sink for a side no stage emits, fail
// the build instead of losing rows at run time.
func TestSideOutputsAreChecked(t *testing.T) {
	build := func(online pipeline.Side, side pipeline.Side) error {
		src, err := generator.New(featuresInput(10))
		if err != nil {
			t.Fatal(err)
		}
		spec := tiles.Every(time.Minute).Features(tiles.Count("n", time.Hour), tiles.LastTime("last_event_ts"))
		if online != "" {
			spec = spec.Online(online)
		}
		b := pipeline.New("sides").From(src).
			Decode(operators.JSON(generator.ClickstreamSchema, operators.JSONOptions{Required: []string{"ts"}})).
			Watermark("ts", 10*time.Second).KeyBy("user_id").Window(spec).To(&discard{name: "main"})
		if side != "" {
			b = b.SideOutput(side, &discard{name: "side"})
		}
		_, err = b.Build()
		return err
	}
	for _, c := range []struct {
		online, side pipeline.Side
		want         string
	}{
		{"online", "", `emits side "online": give it a sink with SideOutput("online", sink)`},
		{"", "online", `SideOutput("online"): no stage of the job emits that side`},
		{"online", "other", `SideOutput("other"): no stage of the job emits that side`},
		{"online", "online", ""},
	} {
		err := build(c.online, c.side)
		if (c.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("online %q, side %q: %v, want %q", c.online, c.side, err, c.want)
		}
	}
}

// discard is a sink that accepts any schema and drops its rows.
type discard struct{ name string }

func (d *discard) Name() string                                     { return d.name }
func (d *discard) Bind(*arrow.Schema) error                         { return nil }
func (d *discard) Write(_ context.Context, b *pipeline.Batch) error { b.Release(); return nil }
func (d *discard) Close(context.Context) error                      { return nil }
