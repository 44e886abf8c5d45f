package jobs

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sources/generator"
)

// sessionsInput is the generator input of the sessions test: about 20 events
// per user over about 3.5 hours of event time, so that users have several
// sessions and sessions several events, with malformed records.
func sessionsInput(events int64) generator.Config {
	return generator.Config{Shards: 4, Events: events, Seed: 9, BadEvery: 5000, EventInterval: 500 * time.Millisecond}
}

// refSession is a session computed by the test from the generated events.
type refSession struct {
	user                            string
	start, end                      int64
	events, views, carts, purchases int64
	revenue                         float64
	landing                         string
	converted                       bool
}

func (s refSession) String() string {
	return fmt.Sprintf("%s [%d, %d] events %d views %d carts %d purchases %d revenue %.2f landing %s converted %t",
		s.user, s.start, s.end, s.events, s.views, s.carts, s.purchases, s.revenue, s.landing, s.converted)
}

// refSessionsOf decodes the generator's events with encoding/json and chains
// each user's events, sorted by event time, into sessions: a new session
// starts after more than SessionGap without events.
func refSessionsOf(t *testing.T, cfg generator.Config) []refSession {
	t.Helper()
	by := refEventsOf(t, cfg)
	gap := SessionGap.Milliseconds()
	var out []refSession
	for u, evs := range by {
		// Stable: of equal times, the event read first is the first.
		slices.SortStableFunc(evs, func(a, b refEvent) int { return int(a.Ts - b.Ts) })
		var cur *refSession
		for _, e := range evs {
			if cur == nil || e.Ts-cur.end > gap {
				out = append(out, refSession{user: u, start: e.Ts, landing: e.Page})
				cur = &out[len(out)-1]
			}
			cur.end = e.Ts
			cur.events++
			switch e.Type {
			case generator.PageView:
				cur.views++
			case generator.AddToCart:
				cur.carts++
			case generator.Purchase:
				cur.purchases++
				cur.revenue += e.Price
				cur.converted = true
			}
			cur = &out[len(out)-1]
		}
	}
	return out
}

// The sessions job writes, into the sessions table (Hive-partitioned by the
// hour of session_start), every session of every user that the test computes
// from the generated events itself, and nothing else; with checkpoints along
// the way and the window in two partitions of the users.
func TestSessionsJob(t *testing.T) {
	const events = 100_000
	dir := t.TempDir()
	cfg := sessionsInput(events)
	src, err := generator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	job, err := Sessions.Build(Env{Source: src, OutDir: out, CheckpointDir: filepath.Join(dir, "ckpt"),
		CheckpointInterval: 100 * time.Millisecond, Options: []pipeline.Option{pipeline.WithParallelism(2)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := job.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := job.Stats()
	if want := int64(events / 5000); st.DeadLetters != want {
		t.Errorf("%d dead letters, want %d", st.DeadLetters, want)
	}
	if st.Counters["late_rows"] != 0 {
		t.Errorf("%d late rows; the generator's disorder is within the watermark's bound", st.Counters["late_rows"])
	}

	want := refSessionsOf(t, cfg)
	rows := testenv.DuckDB(t, fmt.Sprintf(`SELECT user_id, epoch_ms(session_start) AS s, epoch_ms(session_end) AS e,
		events, page_views, add_to_cart, purchases, revenue, landing_page, converted, dt, hour
		FROM read_parquet('%s/sessions/**/*.parquet', hive_partitioning=true)`, out))
	var got []refSession
	for _, r := range rows {
		s := refSession{user: r["user_id"].(string), start: toInt64(r["s"]), end: toInt64(r["e"]),
			events: toInt64(r["events"]), views: toInt64(r["page_views"]), carts: toInt64(r["add_to_cart"]),
			purchases: toInt64(r["purchases"]), revenue: r["revenue"].(float64), landing: r["landing_page"].(string),
			converted: r["converted"].(bool)}
		start := time.UnixMilli(s.start).UTC()
		if dt, hour := fmt.Sprint(r["dt"]), toInt64(r["hour"]); dt != start.Format(time.DateOnly) || hour != int64(start.Hour()) {
			t.Fatalf("session %s is in partition dt=%s/hour=%d", s, dt, hour)
		}
		got = append(got, s)
	}
	order := func(a, b refSession) int {
		if c := strings.Compare(a.user, b.user); c != 0 {
			return c
		}
		return int(a.start - b.start)
	}
	slices.SortFunc(got, order)
	slices.SortFunc(want, order)
	if len(got) != len(want) {
		t.Fatalf("%d sessions, want %d", len(got), len(want))
	}
	users := map[string]int{}
	multi := 0
	for i := range want {
		g, w := got[i], want[i]
		if math.Abs(g.revenue-w.revenue) > 1e-9*max(1, w.revenue) {
			t.Fatalf("session %d: %s, want %s", i, g, w)
		}
		g.revenue = w.revenue
		if g != w {
			t.Fatalf("session %d: %s, want %s", i, g, w)
		}
		if users[w.user]++; users[w.user] == 2 {
			multi++
		}
	}
	t.Logf("%d sessions of %d users, %d with several", len(want), len(users), multi)
	// The input is what the test is meant to cover: users with several
	// sessions, sessions with several events, purchases.
	if multi < len(users)/2 || len(want) < 2*len(users) || st.Counters["windows_fired"] != int64(len(want)) {
		t.Errorf("%d sessions of %d users, %d with several; windows_fired %d", len(want), len(users), multi, st.Counters["windows_fired"])
	}
}
