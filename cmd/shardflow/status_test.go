package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/shardflow/shardflow/jobs"
	"github.com/shardflow/shardflow/pipeline"
)

// manyShards is progress long enough to overflow any terminal.
func manyShards(n int) pipeline.Stats {
	st := pipeline.Stats{RecordsIn: 1_234_567, Watermark: pipeline.MinTime, LastCheckpoint: 12}
	for i := range n {
		st.Shards = append(st.Shards, pipeline.ShardProgress{Shard: fmt.Sprintf("shardId-%012d", i), Records: 123_456})
	}
	return st
}

func TestStatusLineNeverWraps(t *testing.T) {
	for _, width := range []int{200, 80, 40, 2, 1, 0} {
		line := statusLine(manyShards(16), 1000, width)
		if n := utf8.RuneCountInString(line); n > max(width-1, 1) || !strings.HasSuffix(line, "…") {
			t.Errorf("width %d: %d runes, want at most %d ending in …: %q", width, n, max(width-1, 1), line)
		}
	}
	if line := statusLine(manyShards(1), 1000, 200); strings.HasSuffix(line, "…") || !strings.HasSuffix(line, "000000 123,456") {
		t.Errorf("a line that fits was cut: %q", line)
	}
}

func TestTermWidthWithoutATerminal(t *testing.T) {
	if w := termWidth(&bytes.Buffer{}); w != 80 {
		t.Errorf("termWidth of a buffer = %d, want 80", w)
	}
}

func TestStatusLineShowsAnOutage(t *testing.T) {
	st := pipeline.Stats{Watermark: pipeline.MinTime, Shards: []pipeline.ShardProgress{{Shard: "shardId-000000000000"}, {Shard: "shardId-000000000001"}},
		Trouble: map[string]string{"shardId-000000000001": "GetRecords failing since 05:59:46 (connection): connection refused"}}
	line := statusLine(st, 0, 200)
	if want := "1 of 2 shards retrying: 000000000001 GetRecords failing since 05:59:46 (connection): connection refused"; !strings.Contains(line, want) {
		t.Errorf("status line %q lacks %q", line, want)
	}
}

func TestSummaryTellsThisRunFromTheJobsTotal(t *testing.T) {
	var b strings.Builder
	st := pipeline.Stats{Started: time.Now(), ResumedFrom: 7, Finished: true, RecordsIn: 10,
		Counters: map[string]int64{"windows_fired": 154, "late_rows": 3}, CountersAtStart: map[string]int64{"windows_fired": 106, "late_rows": 1}}
	printSummary(&b, jobs.Clickstream, runFlags{out: "o", checkpoints: "c"}, st, false)
	for _, want := range []string{"windows        48 in this run, 154 since the job started", "late rows      2 dropped in this run, 3 since the job started"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
}
