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
// but not committed, then reads the table back with DuckDB.
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
	checkpoint := func(id uint64, commit bool) {
		h, err := s.PreCommit(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if commit {
			if err := s.Commit(ctx, id, h); err != nil {
				t.Fatal(err)
			}
		}
	}
	const committed = 1500 // rows 0..1499: hours 22 and 23 of 2026-03-01, hour 00 of 03-02
	write(0, 800)
	checkpoint(1, true)
	write(800, committed)
	checkpoint(2, true)
	write(committed, committed+300)
	checkpoint(3, false) // staged, invisible
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

	if err := s.Close(ctx); err != nil {
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
