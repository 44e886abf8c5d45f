package generator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sources/generator"
)

// readShard reads shard s of src after position after, up to limit records
// (limit < 0: to the end), and returns the records' bytes.
func readShard(t *testing.T, src *generator.Source, s int, after int64, limit int) [][]byte {
	t.Helper()
	r, err := src.OpenShard(t.Context(), pipeline.Shard{ID: generator.ShardID(s)}, pipeline.Position{N: after})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out [][]byte
	for limit < 0 || len(out) < limit {
		b, err := r.Read(t.Context())
		if errors.Is(err, pipeline.ErrShardEnd) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data := b.Rec.Column(0).(*array.Binary)
		for i := range b.Len() {
			out = append(out, bytes.Clone(data.Value(i)))
		}
		b.Release()
	}
	if limit >= 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

func mustNew(t *testing.T, cfg generator.Config, opts ...generator.Option) *generator.Source {
	t.Helper()
	src, err := generator.New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func TestDeterminism(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	cfg := generator.Config{Shards: 2, Events: 4000, Seed: 42, BatchSize: 300, BadEvery: 100, Mem: mem}
	a := readShard(t, mustNew(t, cfg), 1, 0, -1)
	b := readShard(t, mustNew(t, cfg), 1, 0, -1)
	if len(a) != 2000 || len(a) != len(b) {
		t.Fatalf("read %d and %d records, want 2000", len(a), len(b))
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("same seed, record %d differs:\n%s\n%s", i, a[i], b[i])
		}
	}
	cfg.Seed = 43
	c := readShard(t, mustNew(t, cfg), 1, 0, -1)
	same := 0
	for i := range a {
		if bytes.Equal(a[i], c[i]) {
			same++
		}
	}
	if same > 0 {
		t.Errorf("seeds 42 and 43 produced %d identical records of %d", same, len(a))
	}
}

func TestResumeAnywhereInAnUnboundedRun(t *testing.T) {
	cfg := generator.Config{Seed: 9, BatchSize: 256}
	src := mustNew(t, cfg)
	ref, err := generator.NewReference(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if src.Bounded() {
		t.Fatal("Events = 0 should be unbounded")
	}
	for _, k := range []int64{0, 1, 999, 123_456_789, 1 << 40} {
		got := readShard(t, src, 3, k, 500)
		for j, rec := range got {
			want, _, _ := ref.Append(nil, 3, k+int64(j))
			if !bytes.Equal(rec, want) {
				t.Fatalf("after %d, record %d = %s, want %s", k, j, rec, want)
			}
		}
	}
}

// clickEvent is the JSON of an event, decoded by encoding/json in the tests.
type clickEvent struct {
	EventID   string   `json:"event_id"`
	UserID    string   `json:"user_id"`
	SessionID string   `json:"session_id"`
	EventType string   `json:"event_type"`
	Page      string   `json:"page"`
	Referrer  *string  `json:"referrer"`
	TS        string   `json:"ts"`
	Price     *float64 `json:"price"`
}

func TestDistribution(t *testing.T) {
	const n = 100_000
	ref, err := generator.NewReference(generator.Config{Events: n, Seed: 1, BadEvery: 1000})
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]int{}
	pages := map[string]bool{}
	users := map[string]int{}
	userShard := map[string]string{}
	ids := map[string]bool{}
	bad := 0
	for ev := range ref.All() {
		var e clickEvent
		err := json.Unmarshal(ev.Data, &e)
		if ev.Malformed {
			bad++
			if err == nil {
				t.Fatalf("malformed record %s of %s is valid JSON: %s", ev.Pos, ev.Shard, ev.Data)
			}
			continue
		}
		if err != nil {
			t.Fatalf("record %s of %s: %v: %s", ev.Pos, ev.Shard, err, ev.Data)
		}
		types[e.EventType]++
		pages[e.Page] = true
		users[e.UserID]++
		if prev, ok := userShard[e.UserID]; ok && prev != ev.Shard {
			t.Fatalf("user %s in shards %s and %s", e.UserID, prev, ev.Shard)
		}
		userShard[e.UserID] = ev.Shard
		if ids[e.EventID] {
			t.Fatalf("duplicate event_id %s", e.EventID)
		}
		ids[e.EventID] = true
		if e.UserID != ev.PartitionKey {
			t.Fatalf("partition key %q, user_id %q", ev.PartitionKey, e.UserID)
		}
		if e.SessionID == "" || e.Referrer == nil || e.Page == "" {
			t.Fatalf("missing field: %s", ev.Data)
		}
		ts, err := time.Parse("2006-01-02T15:04:05.000Z", e.TS)
		if err != nil || ts.UnixMilli() != ev.EventTime {
			t.Fatalf("ts %q (%v) does not match event time %d", e.TS, err, ev.EventTime)
		}
		hasPrice := e.Price != nil
		if hasPrice != (e.EventType != generator.PageView) {
			t.Fatalf("price on a %s event: %v", e.EventType, hasPrice)
		}
		if hasPrice && (*e.Price <= 0 || *e.Price > 1000) {
			t.Fatalf("price %v out of range", *e.Price)
		}
	}
	good := n - bad
	if bad != n/1000 {
		t.Errorf("%d malformed records, want %d", bad, n/1000)
	}
	for typ, want := range map[string]float64{generator.PageView: 0.80, generator.AddToCart: 0.15, generator.Purchase: 0.05} {
		if got := float64(types[typ]) / float64(good); math.Abs(got-want) > 0.02 {
			t.Errorf("share of %s = %.3f, want %.2f ± 0.02", typ, got, want)
		}
	}
	if len(types) != 3 {
		t.Errorf("event types %v, want 3", types)
	}
	if len(pages) < 15 || len(pages) > 25 {
		t.Errorf("%d distinct pages, want about 20", len(pages))
	}
	if len(users) < 8000 || len(users) > generator.NumUsers {
		t.Errorf("%d distinct users, want most of %d", len(users), generator.NumUsers)
	}
	// Skew: the most active 1% of users have far more than 1% of the events.
	counts := make([]int, 0, len(users))
	for _, c := range users {
		counts = append(counts, c)
	}
	top := topSum(counts, generator.NumUsers/100)
	if share := float64(top) / float64(good); share < 0.08 {
		t.Errorf("the top 1%% of users have %.3f of the events, want a skewed share > 0.08", share)
	}
}

func topSum(counts []int, k int) int {
	sum := 0
	for range k {
		best := 0
		for i, c := range counts {
			if c > counts[best] {
				best = i
			}
		}
		sum += counts[best]
		counts[best] = 0
	}
	return sum
}

func TestDisorderBound(t *testing.T) {
	tests := []struct {
		name string
		cfg  generator.Config
	}{
		{"default", generator.Config{Shards: 2, Events: 100_000}},
		{"sub-millisecond interval", generator.Config{Shards: 3, Events: 60_000, EventInterval: 250 * time.Microsecond,
			MaxDisorder: 1500 * time.Millisecond, Start: time.Date(2026, 3, 1, 12, 0, 0, 123_456_789, time.UTC)}},
		{"no disorder", generator.Config{Shards: 1, Events: 20_000, MaxDisorder: generator.NoDisorder}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ref, err := generator.NewReference(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			cfg := ref.Config()
			bound := cfg.MaxDisorder.Milliseconds()
			start := cfg.Start.UnixMilli()
			for s := range cfg.Shards {
				maxSeen, worst := pipeline.MinTime, int64(0)
				for ev := range ref.Events(s) {
					if ev.EventTime < start {
						t.Fatalf("shard %d: event %s at %d before Start %d", s, ev.Pos, ev.EventTime, start)
					}
					maxSeen = max(maxSeen, ev.EventTime)
					worst = max(worst, maxSeen-ev.EventTime)
				}
				if worst > bound {
					t.Errorf("shard %d: an event is %dms behind the shard's max event time, bound %dms", s, worst, bound)
				}
				if bound > 0 && worst < bound*8/10 {
					t.Errorf("shard %d: worst disorder %dms, want close to the bound %dms", s, worst, bound)
				}
				span := time.Duration(ref.ShardEvents(s)) * cfg.EventInterval
				if got := time.Duration(maxSeen-start) * time.Millisecond; got < span-time.Second || got > span+time.Second {
					t.Errorf("shard %d: event time spans %v, want about %v", s, got, span)
				}
			}
		})
	}
}

func TestEventsSplitEvenly(t *testing.T) {
	ref, err := generator.NewReference(generator.Config{Shards: 4, Events: 10})
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for s := range 4 {
		got = append(got, ref.ShardEvents(s))
	}
	if want := []int64{3, 3, 2, 2}; !equal(got, want) {
		t.Errorf("events per shard = %v, want %v", got, want)
	}
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestShards(t *testing.T) {
	src := mustNew(t, generator.Config{Events: 1})
	shards, err := src.Shards(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range shards {
		ids = append(ids, s.ID)
		if len(s.Parents) != 0 {
			t.Errorf("shard %s has parents %v", s.ID, s.Parents)
		}
	}
	if got := strings.Join(ids, ","); got != "shard-0000,shard-0001,shard-0002,shard-0003" {
		t.Errorf("shards = %s", got)
	}
	if src.Name() != "generator" || !src.Bounded() {
		t.Errorf("Name = %q, Bounded = %v", src.Name(), src.Bounded())
	}
}

func TestOpenShardErrors(t *testing.T) {
	src := mustNew(t, generator.Config{Shards: 2, Events: 10})
	tests := []struct {
		name  string
		shard string
		after pipeline.Position
	}{
		{"unknown shard", "shard-0002", pipeline.Position{}},
		{"malformed id", "shard-1", pipeline.Position{}},
		{"not a generator id", "foo", pipeline.Position{}},
		{"past the end", "shard-0000", pipeline.Position{N: 6}},
		{"negative", "shard-0000", pipeline.Position{N: -1}},
		{"kinesis position", "shard-0000", pipeline.Position{Seq: "123"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := src.OpenShard(t.Context(), pipeline.Shard{ID: tc.shard}, tc.after)
			if err == nil {
				r.Close()
				t.Fatal("OpenShard succeeded, want an error")
			}
			if !strings.HasPrefix(err.Error(), "generator: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     generator.Config
		wantErr string
	}{
		{"zero value", generator.Config{}, ""},
		{"everything set", generator.Config{Shards: 8, Events: 100, Seed: -3, Rate: 10, BatchSize: 5, BadEvery: 7,
			EventInterval: time.Second, MaxDisorder: time.Minute, Start: time.Unix(0, 0)}, ""},
		{"negative shards", generator.Config{Shards: -1}, "shards"},
		{"too many shards", generator.Config{Shards: generator.MaxShards + 1}, "shards"},
		{"negative events", generator.Config{Events: -1}, "events"},
		{"negative rate", generator.Config{Rate: -1}, "rate"},
		{"NaN rate", generator.Config{Rate: math.NaN()}, "rate"},
		{"infinite rate", generator.Config{Rate: math.Inf(1)}, "rate"},
		{"negative batch", generator.Config{BatchSize: -1}, "batch size"},
		{"negative interval", generator.Config{EventInterval: -time.Second}, "event interval"},
		{"negative disorder", generator.Config{MaxDisorder: -2 * time.Second}, "max disorder"},
		{"negative bad every", generator.Config{BadEvery: -1}, "bad every"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			_, newErr := generator.New(tc.cfg)
			if tc.wantErr == "" {
				if err != nil || newErr != nil {
					t.Fatalf("Validate = %v, New = %v", err, newErr)
				}
				return
			}
			if err == nil || newErr == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "generator: ") {
				t.Fatalf("Validate = %v, New = %v, want a generator error about %q", err, newErr, tc.wantErr)
			}
		})
	}
}

func TestReadAfterCloseAndCanceled(t *testing.T) {
	src := mustNew(t, generator.Config{Events: 100})
	r, err := src.OpenShard(t.Context(), pipeline.Shard{ID: "shard-0000"}, pipeline.Position{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := r.Read(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Read with a canceled context = %v", err)
	}
	r.Close()
	if _, err := r.Read(t.Context()); !errors.Is(err, generator.ErrClosed) {
		t.Errorf("Read after Close = %v, want ErrClosed", err)
	}
}
