package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/sources/generator"
)

// One of two files has an event five hours ahead of the others (a wild
// clock) halfway through. The events of that file after it are late for
// their own shard, whatever the other file's pace: `run clickstream` puts
// exactly them, whole, into late_events, and two runs give the same
// page_stats and the same late_events.
func TestLateEventsAreKeptTheSameOnEveryRun(t *testing.T) {
	bin := buildBinary(t)
	in := t.TempDir()
	appendEvents(t, filepath.Join(in, "e0.jsonl"), 0, 0, 3000)
	appendEvents(t, filepath.Join(in, "e1.jsonl"), 1, 0, 1500)
	wild := `{"event_id":"wild","user_id":"u-wild","session_id":"s-wild","event_type":"page_view","page":"/wild","referrer":"","ts":"2026-01-01T05:00:00Z"}` + "\n"
	f, err := os.OpenFile(filepath.Join(in, "e1.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(wild); err != nil {
		t.Fatal(err)
	}
	f.Close()
	appendEvents(t, filepath.Join(in, "e1.jsonl"), 1, 1500, 3000)

	// The well-formed events of e1 after the wild one.
	ref, err := generator.NewReference(generator.Config{Shards: 2, Seed: 42, BadEvery: 3000})
	if err != nil {
		t.Fatal(err)
	}
	want, i := 0, 0
	for e := range ref.Events(1) {
		if i >= 1500 && !e.Malformed {
			want++
		}
		if i++; i == 3000 {
			break
		}
	}

	var tables []string
	for run := range 2 {
		dir := t.TempDir()
		if code, out := runBinary(t, bin, fileArgs(dir, "file://"+filepath.Join(in, "*.jsonl"))...); code != 0 {
			t.Fatalf("run %d: exit %d\n%s", run, code, out)
		}
		late := testenv.DuckDB(t, fmt.Sprintf(`SELECT count(*) AS n, count(DISTINCT event_id) AS ids, min(ts) < TIMESTAMP '2026-01-01 05:00:00' AS before
			FROM read_parquet('%s/out/late_events/**/*.parquet')`, dir))
		if n := fmt.Sprint(late[0]["n"]); n != fmt.Sprint(want) || fmt.Sprint(late[0]["ids"]) != n || late[0]["before"] != true {
			t.Errorf("run %d: late_events %v, want the %d events of e1 after the wild one, once each", run, late[0], want)
		}
		rows := testenv.DuckDB(t, fmt.Sprintf(`SELECT (SELECT string_agg(concat_ws(',', window_start, page, events, revenue, unique_users), ';' ORDER BY window_start, page)
			FROM read_parquet('%[1]s/out/page_stats/**/*.parquet')) AS stats,
			(SELECT string_agg(event_id, ';' ORDER BY event_id) FROM read_parquet('%[1]s/out/late_events/**/*.parquet')) AS late`, dir))
		tables = append(tables, fmt.Sprint(rows[0]["stats"], "|", rows[0]["late"]))
	}
	if tables[0] != tables[1] {
		t.Errorf("two runs of the same input differ:\n%s\n%s", head(strings.Split(tables[0], ";")), head(strings.Split(tables[1], ";")))
	}
}
