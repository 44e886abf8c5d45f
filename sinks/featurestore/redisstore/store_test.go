package redisstore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/sinks/featurestore"
	"github.com/shardflow/shardflow/sinks/featurestore/redisstore"
	"github.com/shardflow/shardflow/sinks/featurestore/storetest"
)

// opener opens stores on the server at addr, each in a database of its own.
func opener(addr string) func(t *testing.T, v featurestore.View) featurestore.Store {
	var mu sync.Mutex
	db := 0
	return func(t *testing.T, v featurestore.View) featurestore.Store {
		mu.Lock()
		db++
		n := db
		mu.Unlock()
		return open(t, fmt.Sprintf("redis://%s/%d", addr, n), v)
	}
}

func open(t testing.TB, url string, v featurestore.View) *redisstore.Store {
	t.Helper()
	loc, err := featurestore.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	s, err := redisstore.Open(context.Background(), loc, v)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, opener(testenv.Redis(t)))
}

// Two writers, one replaying old rows and one writing new ones, interleaved
// as the scheduler pleases: the newest row of each entity stays.
func TestConcurrentWritersKeepTheNewest(t *testing.T) {
	addr := testenv.Redis(t)
	for _, c := range []struct{ layout, query string }{{"native", ""}, {"feast", "?layout=feast&project=race"}} {
		t.Run("layout="+c.layout, func(t *testing.T) { concurrentWriters(t, "redis://"+addr+"/1"+c.query) })
	}
}

func concurrentWriters(t *testing.T, url string) {
	v := storetest.View("race", 0)
	a, b := open(t, url, v), open(t, url, v)
	now := time.Now().UnixMilli()
	var rowsOld, rowsNew []featurestore.Row
	for i := range 1000 {
		e := fmt.Sprintf("user-%d", i)
		rowsOld = append(rowsOld, storetest.Row(e, now, 1))
		rowsNew = append(rowsNew, storetest.Row(e, now+1, 2))
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, w := range []struct {
		s    *redisstore.Store
		rows []featurestore.Row
	}{{a, rowsOld}, {b, rowsNew}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				if err := w.s.Put(context.Background(), w.rows); err != nil {
					errs[i] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	entities := make([]string, len(rowsNew))
	for i, r := range rowsNew {
		entities[i] = r.Entity
	}
	got, err := a.Get(context.Background(), entities)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range got {
		if r == nil || r.EventTime != now+1 || r.Values[0].Int != 2 {
			t.Fatalf("entity %s: got %+v, want the newer row", entities[i], r)
		}
	}
}

// A server that lost its scripts (a restart, SCRIPT FLUSH) gets the script
// again and the rows once more.
func TestPutAfterScriptFlush(t *testing.T) {
	addr := testenv.Redis(t)
	s := open(t, "redis://"+addr+"/2", storetest.View("flushed", 0))
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	row := storetest.Row("u1", 1000, 1)
	if err := s.Put(ctx, []featurestore.Row{row}); err != nil {
		t.Fatalf("Put after SCRIPT FLUSH: %v", err)
	}
	got, err := s.Get(ctx, []string{"u1"})
	if err != nil || got[0] == nil || got[0].EventTime != 1000 {
		t.Fatalf("Get = %v, %v; want the row", got, err)
	}
}

func TestOpenRefuses(t *testing.T) {
	addr := testenv.Redis(t)
	for url, msg := range map[string]string{
		"redis://" + addr + "/0?pool=3": "unknown parameter pool",
		"sqlite://x.db":                 "not a redis:// URL",
	} {
		loc, err := featurestore.ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := redisstore.Open(context.Background(), loc, storetest.View("v", 0)); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want an error saying %q", url, err, msg)
		}
	}
}

// BenchmarkPut puts 1,000 rows per op, each replacing the stored row, in
// the native and in Feast's layout on one server.
func BenchmarkPut(b *testing.B) {
	addr := testenv.Redis(b)
	for _, c := range []struct{ layout, url string }{{"native", "/1"}, {"feast", "/2?layout=feast&project=bench"}} {
		b.Run("layout="+c.layout, func(b *testing.B) {
			s := open(b, "redis://"+addr+c.url, storetest.View("bench", 0))
			rows := make([]featurestore.Row, 1000)
			for i := range rows {
				rows[i] = storetest.Row(fmt.Sprintf("user-%d", i), 0, i)
			}
			for i := 0; b.Loop(); i++ {
				for j := range rows {
					rows[j].EventTime = int64(i)
				}
				if err := s.Put(context.Background(), rows); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(rows))/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
