package parquet

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/pipeline"
)

// TestDuckDBReadsCommittedTable writes two committed checkpoints of windows
// across three hourly partitions and a third checkpoint that is pre-committed
// but not committed, then reads the table back with DuckDB: the table glob
// sees the committed rows once and nothing of the commit log in _shardflow/,
// which DuckDB can read on its own. After a restart that commits the third
// checkpoint, twice, every row is there once.
func TestDuckDBReadsCommittedTable(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	dir := t.TempDir()
	s := newTestSink(t, dir, 256)
	if err := s.Recover(ctx, pipeline.Recovery{Job: "test", Run: "r1"}); err != nil {
		t.Fatal(err)
	}
	write := func(first, last int) {
		for i := first; i < last; i += 90 { // batches of 9 windows of 10 pages
			if err := s.Write(ctx, pageStatsBatch(mem, i, min(90, last-i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	checkpoint := func(id uint64, commit bool) []byte {
		h, err := s.PreCommit(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if commit {
			if err := s.Commit(ctx, id, h); err != nil {
				t.Fatal(err)
			}
		}
		return h
	}
	const committed = 1500 // rows 0..1499: hours 22 and 23 of 2026-03-01, hour 00 of 03-02
	write(0, 800)
	checkpoint(1, true)
	write(800, committed)
	checkpoint(2, true)
	write(committed, committed+300)
	h3 := checkpoint(3, false) // staged, invisible
	write(committed+300, committed+400)
	// left open: the rows of checkpoint 4 are buffered, its files staged

	// Checkpoint 3's staged file is a complete Parquet file, so counting it
	// would show; checkpoint 4's is still being written.
	staged, err := filepath.Glob(filepath.Join(dir, "page_stats", "*", "*", ".part-*.parquet.pending"))
	if err != nil || len(staged) != 2 {
		t.Fatalf("staged files = %v (%v), want checkpoint 3's and 4's", staged, err)
	}
	if n := openParquet(t, staged[0]).NumRows(); n != 300 {
		t.Fatalf("%s has %d rows, want 300", staged[0], n)
	}

	// Expected values, computed independently of the sink.
	type part struct{ n, events int64 }
	want := map[string]*part{}
	var events int64
	var revenue float64
	var revenueRows int64
	for i := range committed {
		start, _, ev, rev, valid, _ := pageStatsRow(i)
		key := partitionDir(start / hourMillis)
		if want[key] == nil {
			want[key] = &part{}
		}
		want[key].n++
		want[key].events += ev
		events += ev
		if valid {
			revenue += rev
			revenueRows++
		}
	}
	if len(want) != 3 {
		t.Fatalf("test data covers %d partitions, want 3", len(want))
	}

	glob := filepath.Join(dir, "page_stats", "**", "*.parquet")
	table := fmt.Sprintf("read_parquet('%s', hive_partitioning = true)", glob)

	totals := testenv.DuckDB(t, "SELECT count(*) AS n, sum(events) AS events, sum(revenue) AS revenue, count(revenue) AS revenue_rows, "+
		"count(DISTINCT page) AS pages, min(window_start) AS first, max(window_end) AS last FROM "+table)
	expectRow(t, totals[0], map[string]string{
		"n":            strconv.Itoa(committed),
		"events":       strconv.FormatInt(events, 10),
		"revenue":      strconv.FormatFloat(revenue, 'f', -1, 64),
		"revenue_rows": strconv.FormatInt(revenueRows, 10),
		"pages":        "10",
		"first":        "2026-03-01 22:00:00+00",
		"last":         "2026-03-02 00:30:00+00",
	})

	types := testenv.DuckDB(t, "SELECT typeof(window_start) AS ws, typeof(page) AS page, typeof(events) AS events, "+
		"typeof(revenue) AS revenue, typeof(bot) AS bot, typeof(dt) AS dt, typeof(hour) AS hour FROM "+table+" LIMIT 1")
	expectRow(t, types[0], map[string]string{
		"ws": "TIMESTAMP WITH TIME ZONE", "page": "VARCHAR", "events": "BIGINT",
		"revenue": "DOUBLE", "bot": "BOOLEAN", "dt": "DATE", "hour": "VARCHAR", // DuckDB keeps "00" as text
	})

	parts := testenv.DuckDB(t, "SELECT strftime(dt, '%Y-%m-%d') AS dt, hour, count(*) AS n, sum(events) AS events, "+
		"count(*) FILTER (WHERE strftime(window_start AT TIME ZONE 'UTC', '%Y-%m-%d') <> strftime(dt, '%Y-%m-%d') "+
		"OR hour(window_start AT TIME ZONE 'UTC') <> hour) AS misplaced "+
		"FROM "+table+" GROUP BY ALL ORDER BY dt, hour")
	if len(parts) != len(want) {
		t.Fatalf("DuckDB sees %d partitions %v, want %d", len(parts), parts, len(want))
	}
	for _, row := range parts {
		hour, _ := strconv.Atoi(fmt.Sprint(row["hour"]))
		key := fmt.Sprintf("dt=%s/hour=%02d", row["dt"], hour)
		w := want[key]
		if w == nil {
			t.Errorf("unexpected partition %s", key)
			continue
		}
		expectRow(t, row, map[string]string{
			"n": strconv.FormatInt(w.n, 10), "events": strconv.FormatInt(w.events, 10), "misplaced": "0",
		})
	}

	files := testenv.DuckDB(t, fmt.Sprintf("SELECT count(*) AS n FROM glob('%s')", glob))
	// checkpoint 1: hours 22 and 23; checkpoint 2: hours 23 and 00 of the next day
	expectRow(t, files[0], map[string]string{"n": "4"})
	meta := testenv.DuckDB(t, fmt.Sprintf("SELECT DISTINCT compression FROM parquet_metadata('%s')", glob))
	if len(meta) != 1 || fmt.Sprint(meta[0]["compression"]) != "ZSTD" {
		t.Errorf("compression = %v, want only ZSTD", meta)
	}

	// The commit log sits in the table directory, and only the table's
	// Parquet files match the glob.
	all := testenv.DuckDB(t, fmt.Sprintf("SELECT count(*) FILTER (WHERE file LIKE '%%/_shardflow/%%') AS log, "+
		"count(*) FILTER (WHERE file LIKE '%%/_shardflow/%%' AND file LIKE '%%.parquet') AS log_parquet FROM glob('%s')",
		filepath.Join(dir, "page_stats", "**")))
	expectRow(t, all[0], map[string]string{"log": "3", "log_parquet": "0"}) // two commits and the run's registration
	entries := testenv.DuckDB(t, fmt.Sprintf("SELECT job, run, checkpoint, len(files) AS files FROM read_json('%s') ORDER BY checkpoint",
		filepath.Join(dir, "page_stats", "_shardflow", "commit-*.json")))
	if len(entries) != 2 {
		t.Fatalf("commit log %v, want checkpoints 1 and 2", entries)
	}
	expectRow(t, entries[1], map[string]string{"job": "test", "run": "r1", "checkpoint": "2", "files": "2"})

	// A restart from checkpoint 3, persisted but not committed: Recover
	// commits it, and a replayed Commit of it changes nothing.
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s2 := newTestSink(t, dir, 256)
	if err := s2.Recover(ctx, pipeline.Recovery{Job: "test", Run: "r1", ID: 3, Handle: h3}); err != nil {
		t.Fatal(err)
	}
	if err := s2.Commit(ctx, 3, h3); err != nil { // the coordinator's replay of the same commit
		t.Fatal(err)
	}
	once := testenv.DuckDB(t, "SELECT count(*) AS n, count(DISTINCT (window_start, page)) AS distinct_rows FROM "+table)
	expectRow(t, once[0], map[string]string{"n": strconv.Itoa(committed + 300), "distinct_rows": strconv.Itoa(committed + 300)})
	if err := s2.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func expectRow(t *testing.T, row map[string]any, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := fmt.Sprint(row[k]); got != v {
			t.Errorf("%s = %s, want %s (row %v)", k, got, v, row)
		}
	}
}
