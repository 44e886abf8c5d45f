package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/sources/generator"
)

// appendEvents appends events [from, to) of generator shard s (seed 42, a
// malformed record every 3,000) to path.
func appendEvents(t *testing.T, path string, s int, from, to int64) {
	t.Helper()
	ref, err := generator.NewReference(generator.Config{Shards: 2, Seed: 42, BadEvery: 3000})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	var buf []byte
	for i := from; i < to; i++ {
		buf, _, _ = ref.Append(buf[:0], s, i)
		w.Write(buf)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func fileArgs(dir, src string, extra ...string) []string {
	return append([]string{"run", "clickstream", "--source", src, "--status", "off",
		"--out", filepath.Join(dir, "out"), "--checkpoints", filepath.Join(dir, "ckpt"), "--checkpoint-interval", "50ms"}, extra...)
}

// windowRows returns page_stats rows of windows that start at or after
// from (ms), as text, in order.
func windowRows(t *testing.T, dir string, from int64) []string {
	t.Helper()
	rows := testenv.DuckDB(t, fmt.Sprintf(
		"SELECT * FROM read_parquet('%s/out/page_stats/**/*.parquet', hive_partitioning=true) WHERE epoch_ms(window_start) >= %d ORDER BY window_start, page", dir, from))
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = fmt.Sprint(r)
	}
	return out
}

// Lines appended to a file after a finished run are read by the next run:
// the windows after what the first run fired equal an uninterrupted run's,
// and nothing is read twice.
func TestLinesAppendedAfterAFinishedRunAreRead(t *testing.T) {
	bin := buildBinary(t)
	const first, all = 20_000, 50_000 // events per file: 200 s, then 500 s of event time
	whole, grown := t.TempDir(), t.TempDir()
	for s := range 2 {
		appendEvents(t, filepath.Join(whole, "in", fmt.Sprintf("e%d.jsonl", s)), s, 0, all)
	}
	if err := os.MkdirAll(filepath.Join(grown, "in"), 0o755); err != nil {
		t.Fatal(err)
	}
	for s := range 2 {
		appendEvents(t, filepath.Join(grown, "in", fmt.Sprintf("e%d.jsonl", s)), s, 0, first)
	}
	if code, out := runBinary(t, bin, fileArgs(whole, "file://"+filepath.Join(whole, "in", "*.jsonl"))...); code != 0 {
		t.Fatalf("uninterrupted run: exit %d\n%s", code, out)
	}
	src := "file://" + filepath.Join(grown, "in", "*.jsonl")
	if code, out := runBinary(t, bin, fileArgs(grown, src)...); code != 0 {
		t.Fatalf("first run: exit %d\n%s", code, out)
	}
	for s := range 2 {
		appendEvents(t, filepath.Join(grown, "in", fmt.Sprintf("e%d.jsonl", s)), s, first, all)
	}
	code, out := runBinary(t, bin, fileArgs(grown, src)...)
	if code != 0 || !strings.Contains(out, "records in     60,000") {
		t.Fatalf("second run: exit %d, want 60,000 records read\n%s", code, out)
	}
	// The first run fired every window up to the end of its input (event
	// time 200 s, in the window [180 s, 240 s)); later windows are whole.
	const after = 240_000 + 1_767_225_600_000 // generator.DefaultStart in ms
	want, got := windowRows(t, whole, after), windowRows(t, grown, after)
	if len(want) == 0 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("windows after the first run: got %d rows, want %d:\n got %v\nwant %v", len(got), len(want), head(got), head(want))
	}
	if w, g := deadLetters(t, whole), deadLetters(t, grown); len(g) != len(w) {
		t.Errorf("dead letters: got %d, want %d", len(g), len(w))
	}
	code, out = runBinary(t, bin, fileArgs(grown, src)...)
	if code != 0 || !strings.Contains(out, "nothing new to do") {
		t.Errorf("third run: exit %d, want nothing new to do\n%s", code, out)
	}
}

func head(s []string) []string { return s[:min(len(s), 3)] }

// --follow reads lines as they are appended and files as they come, until
// a signal takes the final checkpoint.
func TestFollowReadsGrowingFiles(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	appendEvents(t, filepath.Join(in, "e0.jsonl"), 0, 0, 10_000)
	p := startProcess(t, bin, fileArgs(dir, "file://"+filepath.Join(in, "*.jsonl"), "--follow", "--log-level", "debug")...)
	waitRecords := func(n int64) {
		t.Helper()
		p.waitForLine(t, fmt.Sprintf("a checkpoint with %d records read", n), func(line string) bool {
			_, v, ok := strings.Cut(line, " records_in=")
			if !ok || !strings.Contains(line, "checkpoint complete") {
				return false
			}
			v, _, _ = strings.Cut(v, " ")
			got, _ := strconv.ParseInt(v, 10, 64)
			return got >= n
		})
	}
	waitRecords(10_000)
	appendEvents(t, filepath.Join(in, "e0.jsonl"), 0, 10_000, 15_000)
	waitRecords(15_000)
	appendEvents(t, filepath.Join(in, "e1.jsonl"), 1, 0, 5_000) // a new file
	waitRecords(20_000)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t); code != 0 || !strings.Contains(p.output(), "records in     20,000") {
		t.Fatalf("exit %d, want 0 after 20,000 records\n%s", code, p.output())
	}
}
