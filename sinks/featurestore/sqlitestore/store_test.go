package sqlitestore

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shardflow/shardflow/sinks/featurestore"
	"github.com/shardflow/shardflow/sinks/featurestore/storetest"
)

func open(t testing.TB, path string, view featurestore.View) *Store {
	t.Helper()
	loc, err := featurestore.ParseURL("sqlite://" + path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), loc, view)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestNative(t *testing.T) {
	storetest.Run(t, func(t *testing.T, view featurestore.View) featurestore.Store {
		return open(t, filepath.Join(t.TempDir(), "fs.db"), view)
	})
}

func TestTwoStoresNewestWins(t *testing.T) {
	for _, c := range []struct{ layout, query string }{{"native", ""}, {"feast", "?layout=feast&project=p"}} {
		t.Run("layout="+c.layout, func(t *testing.T) { twoStoresNewestWins(t, c.query) })
	}
}

func twoStoresNewestWins(t *testing.T, query string) {
	ctx := context.Background()
	url := "sqlite://" + filepath.Join(t.TempDir(), "fs.db") + query
	view := storetest.View("v", 0)
	a, b := openURL(t, url, view), openURL(t, url, view)
	for i := 0; i < 50; i++ {
		hi, lo := a, b
		if i%2 == 1 {
			hi, lo = b, a
		}
		if err := hi.Put(ctx, []featurestore.Row{storetest.Row("u", int64(1000+i), i)}); err != nil {
			t.Fatal(err)
		}
		if err := lo.Put(ctx, []featurestore.Row{storetest.Row("u", int64(500+i), -i)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []*Store{a, b} {
		got, err := s.Get(ctx, []string{"u"})
		if err != nil {
			t.Fatal(err)
		}
		if got[0] == nil || got[0].EventTime != 1049 {
			t.Fatalf("got %+v, want event time 1049", got[0])
		}
	}
}

func TestReopenKeepsRows(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fs.db")
	view := storetest.View("v", 0)
	s := open(t, path, view)
	if err := s.Put(ctx, []featurestore.Row{storetest.Row("u", 7, 3)}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	got, err := open(t, path, view).Get(ctx, []string{"u"})
	if err != nil {
		t.Fatal(err)
	}
	if got[0] == nil || got[0].EventTime != 7 {
		t.Fatalf("got %+v after reopening", got[0])
	}
}

func TestMismatchedTableRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fs.db")
	view := storetest.View("v", 0)
	open(t, path, view).Close()
	view.Features = view.Features[1:]
	loc, _ := featurestore.ParseURL("sqlite://" + path)
	if _, err := Open(context.Background(), loc, view); err == nil || !strings.Contains(err.Error(), "columns") {
		t.Fatalf("Open of a mismatched view: %v", err)
	}
	loc, _ = featurestore.ParseURL("sqlite://" + path + "?cache=1")
	if _, err := Open(context.Background(), loc, storetest.View("v", 0)); err == nil {
		t.Fatal("unknown parameter accepted")
	}
}

// BenchmarkPut puts 1,000 rows per op, each replacing the stored row, in
// the native and in Feast's layout (a row per feature there).
func BenchmarkPut(b *testing.B) {
	ctx := context.Background()
	for _, layout := range []string{"native", "feast"} {
		b.Run("layout="+layout, func(b *testing.B) {
			url := "sqlite://" + filepath.Join(b.TempDir(), "fs.db")
			if layout == "feast" {
				url += "?layout=feast&project=bench"
			}
			s := openURL(b, url, storetest.View("v", 0))
			rows := make([]featurestore.Row, 1000)
			for j := range rows {
				rows[j] = storetest.Row(fmt.Sprintf("user-%d", j), 0, j)
			}
			for i := 0; b.Loop(); i++ {
				for j := range rows {
					rows[j].EventTime = int64(i) // every Put replaces every row
				}
				if err := s.Put(ctx, rows); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(rows))/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
