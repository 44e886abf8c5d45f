// Package storetest checks that a featurestore.Store keeps the contract every
// store shares: rows round-trip with their types and nulls, an older row never
// replaces a newer one, a Put is idempotent, large Puts are split as the store
// needs, and expired rows are not read. Each store's tests run it against the
// real server, in the native layout and in Feast's (with TimestampSeconds).
package storetest

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/shardflow/shardflow/sinks/featurestore"
)

// Open opens a store of view on an empty namespace (a fresh file, database,
// table or project) that no other call of Open shares.
type Open func(t *testing.T, view featurestore.View) featurestore.Store

// View is the feature view the suite writes: every type once.
func View(name string, ttl time.Duration) featurestore.View {
	return featurestore.View{
		Name:   name,
		Entity: "user_id",
		Features: []featurestore.Feature{
			{Name: "events_1h", Type: featurestore.Int64},
			{Name: "revenue_1h", Type: featurestore.Float64},
			{Name: "last_page", Type: featurestore.String},
			{Name: "last_event_ts", Type: featurestore.Timestamp},
		},
		TTL: ttl,
	}
}

// Row returns the suite's row of entity at eventTime, with values derived
// from n.
func Row(entity string, eventTime int64, n int) featurestore.Row {
	return featurestore.Row{Entity: entity, EventTime: eventTime, Values: []featurestore.Value{
		{Int: int64(n)},
		{Float: float64(n) + 0.25},
		{Str: fmt.Sprintf("/page/%d/ünïcode", n)},
		{Int: eventTime},
	}}
}

// Revised returns r with revision rev.
func Revised(r featurestore.Row, rev int64) featurestore.Row {
	r.Revision = rev
	return r
}

// Option changes what the suite expects of a store.
type Option func(*config)

type config struct {
	timestampSeconds bool
}

// TimestampSeconds is for a store that keeps Timestamp feature values in
// whole seconds, truncated toward zero (Feast's unix_timestamp_val): the
// suite expects them back so. Event times keep their milliseconds.
func TimestampSeconds() Option { return func(c *config) { c.timestampSeconds = true } }

// Run runs the suite.
func Run(t *testing.T, open Open, opts ...Option) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	// expect checks what Get returns for each entity of want.
	expect := func(t *testing.T, s featurestore.Store, view featurestore.View, want map[string]*featurestore.Row) {
		t.Helper()
		if cfg.timestampSeconds {
			want = truncateTimestamps(view, want)
		}
		check(t, s, want)
	}
	now := time.Now().UnixMilli()
	t.Run("RoundTrip", func(t *testing.T) {
		sv := View("roundtrip", 0)
		s := open(t, sv)
		nulls := featurestore.Row{Entity: "u-null", EventTime: now, Values: []featurestore.Value{
			{Null: true}, {Null: true}, {Null: true}, {Null: true},
		}}
		extremes := featurestore.Row{Entity: "u:with spaces/and#symbols", EventTime: now, Values: []featurestore.Value{
			{Int: math.MinInt64}, {Float: -math.MaxFloat64}, {Str: ""}, {Int: 0},
		}}
		put(t, s, Row("u1", now, 1), nulls, extremes)
		expect(t, s, sv, map[string]*featurestore.Row{"u1": ptr(Row("u1", now, 1)), "u-null": &nulls, extremes.Entity: &extremes, "missing": nil})
	})
	t.Run("NeverBackInTime", func(t *testing.T) {
		sv := View("monotonic", 0)
		s := open(t, sv)
		put(t, s, Row("a", now, 2), Row("b", now, 2), Row("c", now, 2))
		// a: older, ignored; b: same event time and revision, replaces; c:
		// newer, replaces; d: new.
		put(t, s, Row("a", now-1, 1), Row("b", now, 3), Row("c", now+1, 4), Row("d", now-5, 5))
		expect(t, s, sv, map[string]*featurestore.Row{
			"a": ptr(Row("a", now, 2)), "b": ptr(Row("b", now, 3)), "c": ptr(Row("c", now+1, 4)), "d": ptr(Row("d", now-5, 5)),
		})
		// At one event time the revision decides: e's greater revision stays
		// against a smaller one, whose event time alone would tie; f's grows;
		// g's newer event time wins over any revision.
		put(t, s, Revised(Row("e", now, 1), 5), Revised(Row("f", now, 1), 5), Revised(Row("g", now, 1), 5))
		put(t, s, Revised(Row("e", now, 2), 4), Revised(Row("f", now, 3), 6), Revised(Row("g", now+1, 4), 0))
		expect(t, s, sv, map[string]*featurestore.Row{
			"e": ptr(Revised(Row("e", now, 1), 5)), "f": ptr(Revised(Row("f", now, 3), 6)), "g": ptr(Row("g", now+1, 4)),
		})
	})
	t.Run("Idempotent", func(t *testing.T) {
		sv := View("idempotent", 0)
		s := open(t, sv)
		rows := []featurestore.Row{Row("x", now, 1), Row("y", now, 2)}
		put(t, s, rows...)
		put(t, s, rows...)
		put(t, s, Row("x", now-10, 9))
		put(t, s, rows...)
		expect(t, s, sv, map[string]*featurestore.Row{"x": ptr(Row("x", now, 1)), "y": ptr(Row("y", now, 2))})
	})
	t.Run("LargePut", func(t *testing.T) {
		sv := View("large", 0)
		s := open(t, sv)
		var rows []featurestore.Row
		want := map[string]*featurestore.Row{}
		for i := range 2500 {
			r := Row(fmt.Sprintf("user-%05d", i), now+int64(i%7), i)
			rows = append(rows, r)
			want[r.Entity] = &r
		}
		put(t, s, rows...)
		expect(t, s, sv, want)
	})
	t.Run("TTL", func(t *testing.T) {
		sv := View("ttl", time.Hour)
		s := open(t, sv)
		fresh := Row("fresh", now, 1)
		put(t, s, fresh, Row("stale", now-2*time.Hour.Milliseconds(), 2))
		expect(t, s, sv, map[string]*featurestore.Row{"fresh": &fresh, "stale": nil})
	})
	t.Run("ViewsApart", func(t *testing.T) {
		av := View("view_a", 0)
		a := open(t, av)
		put(t, a, Row("same-user", now, 1))
		bv := View("view_b", 0)
		b := open(t, bv)
		expect(t, b, bv, map[string]*featurestore.Row{"same-user": nil})
	})
}

// truncateTimestamps returns want with the Timestamp values in whole
// seconds, truncated toward zero.
func truncateTimestamps(view featurestore.View, want map[string]*featurestore.Row) map[string]*featurestore.Row {
	out := make(map[string]*featurestore.Row, len(want))
	for e, r := range want {
		if r == nil {
			out[e] = nil
			continue
		}
		c := *r
		c.Values = append([]featurestore.Value(nil), r.Values...)
		for i, f := range view.Features {
			if f.Type == featurestore.Timestamp && !c.Values[i].Null {
				c.Values[i].Int = c.Values[i].Int / 1000 * 1000
			}
		}
		out[e] = &c
	}
	return out
}

func ptr(r featurestore.Row) *featurestore.Row { return &r }

func put(t *testing.T, s featurestore.Store, rows ...featurestore.Row) {
	t.Helper()
	if err := s.Put(context.Background(), rows); err != nil {
		t.Fatalf("Put: %v", err)
	}
}

// check checks what Get returns for each entity of want.
func check(t *testing.T, s featurestore.Store, want map[string]*featurestore.Row) {
	t.Helper()
	var entities []string
	for e := range want {
		entities = append(entities, e)
	}
	got, err := s.Get(context.Background(), entities)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if len(got) != len(entities) {
		t.Fatalf("Get returned %d rows for %d entities", len(got), len(entities))
	}
	bad := 0
	for i, e := range entities {
		if !reflect.DeepEqual(got[i], want[e]) && bad < 5 {
			bad++
			t.Errorf("entity %q: got %s, want %s", e, show(got[i]), show(want[e]))
		}
	}
}

func show(r *featurestore.Row) string {
	if r == nil {
		return "nil"
	}
	return fmt.Sprintf("%+v", *r)
}

// Contents renders the rows s holds of entities, one line each ("entity
// event-time revision values"), skipping the entities it does not hold, for
// tests that compare what two runs left in their stores.
func Contents(t testing.TB, s featurestore.Store, entities []string) []string {
	t.Helper()
	rows, err := s.Get(context.Background(), entities)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		if r != nil {
			out = append(out, fmt.Sprintf("%s %d %d %+v", r.Entity, r.EventTime, r.Revision, r.Values))
		}
	}
	return out
}
