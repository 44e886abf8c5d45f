package redisstore_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/sinks/featurestore"
	"github.com/shardflow/shardflow/sinks/featurestore/storetest"
)

// TestFeastStore runs the conformance suite in the Feast layout, each store
// in a project of its own on database 0.
func TestFeastStore(t *testing.T) {
	addr := testenv.Redis(t)
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T, v featurestore.View) featurestore.Store {
		return open(t, fmt.Sprintf("redis://%s/0?layout=feast&project=p%d", addr, n.Add(1)), v)
	}, storetest.TimestampSeconds())
}

// feastView is the view of the byte-level tests; the vectors below are
// printed by sinks/featurestore/feast/testdata/vectors.py, which computes
// them from Feast's documented encoding without this module's code.
var feastView = featurestore.View{Name: "user_stats", Entity: "user_id", Features: []featurestore.Feature{
	{Name: "clicks", Type: featurestore.Int64},
	{Name: "revenue", Type: featurestore.Float64},
	{Name: "page", Type: featurestore.String},
	{Name: "last_seen", Type: featurestore.Timestamp},
}}

func unhex(t *testing.T, s string) string {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestFeastBytes checks what lands in Redis, field by field, against
// independently computed vectors.
func TestFeastBytes(t *testing.T) {
	addr := testenv.Redis(t)
	ctx := context.Background()
	s := open(t, "redis://"+addr+"/3?layout=feast&project=proj", feastView)
	row := featurestore.Row{Entity: "u1", EventTime: 1700000000123, Revision: 7, Values: []featurestore.Value{
		{Int: 42}, {Float: 2.5}, {Str: "/home é"}, {Int: 1700000000999},
	}}
	if err := s.Put(ctx, []featurestore.Row{row}); err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: addr, DB: 3})
	defer c.Close()
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	key := unhex(t, "010000000200000007000000757365725f69640200000002000000753170726f6a") // EntityKey(user_id=u1) + "proj"
	if !reflect.DeepEqual(keys, []string{key}) {
		t.Fatalf("keys = %q, want only %q", keys, key)
	}
	got, err := c.HGetAll(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		unhex(t, "9f7bfa51"): unhex(t, "202a"),                   // clicks: int64_val 42
		unhex(t, "587fda48"): unhex(t, "290000000000000440"),     // revenue: double_val 2.5
		unhex(t, "7a135b73"): unhex(t, "12082f686f6d6520c3a9"),   // page: string_val "/home é"
		unhex(t, "d1f27523"): unhex(t, "4080e2cfaa06"),           // last_seen: unix_timestamp_val 1700000000 (s)
		"_ts:user_stats":     unhex(t, "0880e2cfaa0610c0a9d33a"), // Timestamp{1700000000, 123000000}
		"_rev:user_stats":    "7",                                // shardflow's; Feast does not read it
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("HGETALL = %q\nwant      %q", got, want)
	}
	if ttl, err := c.PTTL(ctx, key).Result(); err != nil || ttl != -1 {
		t.Errorf("PTTL = %v, %v; want no expiry for a view without TTL", ttl, err)
	}

	// A null overwrites the field with the empty Value, as Feast writes None.
	row.EventTime++
	row.Values[2] = featurestore.Value{Null: true}
	if err := s.Put(ctx, []featurestore.Row{row}); err != nil {
		t.Fatal(err)
	}
	if v, err := c.HGet(ctx, key, unhex(t, "7a135b73")).Result(); err != nil || v != "" {
		t.Errorf("null page = %q, %v; want the empty Value", v, err)
	}
}

// TestFeastViewsShareAKey checks that views of one project and entity share
// Feast's hash, each with its own fields, and how the key's expiry follows
// the views: later, never earlier, and never for a view without a TTL.
func TestFeastViewsShareAKey(t *testing.T) {
	addr := testenv.Redis(t)
	ctx := context.Background()
	url := "redis://" + addr + "/4?layout=feast&project=proj"
	now := time.Now().UnixMilli()
	short, long, forever := storetest.View("short", time.Hour), storetest.View("long", 5*time.Hour), storetest.View("forever", 0)
	a, b, f := open(t, url, short), open(t, url, long), open(t, url, forever)
	c := redis.NewClient(&redis.Options{Addr: addr, DB: 4})
	defer c.Close()
	key := unhex(t, "010000000200000007000000757365725f69640200000002000000753170726f6a")
	expiry := func() int64 {
		t.Helper()
		ms, err := c.Do(ctx, "PEXPIRETIME", key).Int64()
		if err != nil {
			t.Fatal(err)
		}
		return ms
	}
	put := func(s featurestore.Store, r featurestore.Row) {
		t.Helper()
		if err := s.Put(ctx, []featurestore.Row{r}); err != nil {
			t.Fatal(err)
		}
	}
	put(b, storetest.Row("u1", now, 2))
	if got, want := expiry(), now+5*time.Hour.Milliseconds(); got != want {
		t.Errorf("after the 5h view: key expires at %d, want %d", got, want)
	}
	put(a, storetest.Row("u1", now, 1))
	if got, want := expiry(), now+5*time.Hour.Milliseconds(); got != want {
		t.Errorf("after the 1h view: key expires at %d, want %d still (never earlier)", got, want)
	}
	put(a, storetest.Row("u1", now+5*time.Hour.Milliseconds(), 3))
	if got, want := expiry(), now+6*time.Hour.Milliseconds(); got != want {
		t.Errorf("after a newer 1h row: key expires at %d, want %d", got, want)
	}
	put(f, storetest.Row("u1", now, 4))
	if got := expiry(); got != -1 {
		t.Errorf("after the view without TTL: key expires at %d, want never (-1)", got)
	}
	put(b, storetest.Row("u1", now+time.Hour.Milliseconds(), 5))
	if got := expiry(); got != -1 {
		t.Errorf("a TTL view gave the key of a view without TTL an expiry (%d)", got)
	}
	fields, err := c.HKeys(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(fields) != 3*(4+2) {
		t.Errorf("the shared hash has %d fields, want 18 (3 views of 4 features, _ts and _rev)", len(fields))
	}
	for s, want := range map[featurestore.Store]featurestore.Row{
		b: storetest.Row("u1", now+time.Hour.Milliseconds(), 5),
		f: storetest.Row("u1", now, 4),
	} {
		got, err := s.Get(ctx, []string{"u1"})
		if err != nil {
			t.Fatal(err)
		}
		want.Values[3].Int = want.Values[3].Int / 1000 * 1000
		if got[0] == nil || !reflect.DeepEqual(*got[0], want) {
			t.Errorf("got %+v, want %+v", got[0], want)
		}
	}
}

// TestFeastReadsFeastWrites checks that a row Feast's materialization wrote
// (a _ts field and no _rev) is read, and that the compare-and-set reads its
// event time from the Timestamp protobuf: an older row is ignored, a newer
// one replaces it.
func TestFeastReadsFeastWrites(t *testing.T) {
	addr := testenv.Redis(t)
	ctx := context.Background()
	s := open(t, "redis://"+addr+"/5?layout=feast&project=proj", feastView)
	c := redis.NewClient(&redis.Options{Addr: addr, DB: 5})
	defer c.Close()
	key := unhex(t, "010000000200000007000000757365725f69640200000002000000753170726f6a")
	// As Feast's online_write_batch would: Timestamp{1700000000, 123000000},
	// clicks 42 and nothing else.
	if err := c.HSet(ctx, key, "_ts:user_stats", unhex(t, "0880e2cfaa0610c0a9d33a"), unhex(t, "9f7bfa51"), unhex(t, "202a")).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, []string{"u1"})
	if err != nil {
		t.Fatal(err)
	}
	want := featurestore.Row{Entity: "u1", EventTime: 1700000000123, Values: []featurestore.Value{{Int: 42}, {Null: true}, {Null: true}, {Null: true}}}
	if got[0] == nil || !reflect.DeepEqual(*got[0], want) {
		t.Fatalf("got %+v, want %+v", got[0], want)
	}
	older := featurestore.Row{Entity: "u1", EventTime: 1700000000122, Revision: 9, Values: []featurestore.Value{{Int: 1}, {Null: true}, {Null: true}, {Null: true}}}
	if err := s.Put(ctx, []featurestore.Row{older}); err != nil {
		t.Fatal(err)
	}
	if v, _ := c.HGet(ctx, key, unhex(t, "9f7bfa51")).Result(); v != unhex(t, "202a") {
		t.Errorf("an older row replaced Feast's: clicks = %x", v)
	}
	newer := older
	newer.EventTime = 1700000000124
	if err := s.Put(ctx, []featurestore.Row{newer}); err != nil {
		t.Fatal(err)
	}
	if v, _ := c.HGet(ctx, key, unhex(t, "9f7bfa51")).Result(); v != unhex(t, "2001") {
		t.Errorf("a newer row did not replace Feast's: clicks = %x", v)
	}
}

// TestFeastBeforeEpoch checks the script's reading of a Timestamp whose
// seconds are negative (a ten-byte varint): older rows are ignored, newer
// ones replace, to the millisecond.
func TestFeastBeforeEpoch(t *testing.T) {
	addr := testenv.Redis(t)
	ctx := context.Background()
	s := open(t, "redis://"+addr+"/6?layout=feast&project=proj", feastView)
	c := redis.NewClient(&redis.Options{Addr: addr, DB: 6})
	defer c.Close()
	key := unhex(t, "010000000200000007000000757365725f69640200000002000000753170726f6a")
	row := func(ms, rev, clicks int64) featurestore.Row {
		return featurestore.Row{Entity: "u1", EventTime: ms, Revision: rev, Values: []featurestore.Value{{Int: clicks}, {Null: true}, {Null: true}, {Null: true}}}
	}
	for _, c2 := range []struct {
		r          featurestore.Row
		wantClicks int64
	}{
		{row(-1001, 3, 1), 1},
		{row(-1002, 9, 2), 1}, // older
		{row(-1001, 2, 3), 1}, // same instant, smaller revision
		{row(-1001, 3, 4), 4}, // the same pair again
		{row(-1000, 0, 5), 5}, // newer
		{row(-2_000_000_000_000, 0, 6), 5},
	} {
		if err := s.Put(ctx, []featurestore.Row{c2.r}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, []string{"u1"})
		if err != nil {
			t.Fatal(err)
		}
		if got[0] == nil || got[0].Values[0].Int != c2.wantClicks {
			t.Errorf("after a put at %d ms, revision %d: got %+v, want clicks %d", c2.r.EventTime, c2.r.Revision, got[0], c2.wantClicks)
		}
	}
	// seconds=-1, nanos=0 now; before the last puts, seconds=-2, nanos=999000000:
	if ts, _ := c.HGet(ctx, key, "_ts:user_stats").Result(); ts != unhex(t, "08ffffffffffffffffff01") {
		t.Errorf("_ts = %x, want Timestamp{seconds: -1}", ts)
	}
}
