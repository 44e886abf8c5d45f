package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/sources/generator"
)

// TestKillAnywhereGivesTheSameOutput SIGKILLs the shardflow binary at random
// moments of a file-source run and restarts it until it finishes. The Parquet
// table (read back by DuckDB) and the dead letters must equal those of an
// uninterrupted run, without a duplicate row. The uninterrupted run has one
// window instance; each restart has from 1 to 4, so that a checkpoint is
// resumed with another parallelism than the run that wrote it.
func TestKillAnywhereGivesTheSameOutput(t *testing.T) {
	bin := buildBinary(t)
	input := writeInput(t, 4, 200_000)
	src := "file://" + filepath.Join(input, "*.jsonl")

	args := func(dir string, parallelism int) []string {
		return append(shardflowArgs(dir, src), "--parallelism", strconv.Itoa(parallelism))
	}
	want, got := killAnywhere(t, bin, args, 4, 8)
	compareOutputs(t, want, got)
}

func shardflowArgs(dir, src string) []string {
	return []string{"run", "clickstream", "--source", src, "--status", "off",
		"--out", filepath.Join(dir, "out"), "--checkpoints", filepath.Join(dir, "ckpt"),
		"--checkpoint-interval", checkpointInterval.String()}
}

const checkpointInterval = 40 * time.Millisecond

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "shardflow")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// writeInput writes shards files of generator clickstream, perShard events
// each, with a malformed record every 3,000.
func writeInput(t *testing.T, shards int, perShard int64) string {
	t.Helper()
	ref, err := generator.NewReference(generator.Config{Shards: shards, Events: int64(shards) * perShard, Seed: 42, BadEvery: 3000})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for s := range shards {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("events-%d.jsonl", s)))
		if err != nil {
			t.Fatal(err)
		}
		w := bufio.NewWriter(f)
		var buf []byte
		for i := range perShard {
			buf, _, _ = ref.Append(buf[:0], s, i)
			w.Write(buf)
			w.WriteByte('\n')
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	return dir
}

func compareOutputs(t *testing.T, want, got string) {
	t.Helper()
	query := func(dir string) []map[string]any {
		return testenv.DuckDB(t, fmt.Sprintf(
			"SELECT * FROM read_parquet('%s/out/page_stats/**/*.parquet', hive_partitioning=true) ORDER BY window_start, page",
			dir))
	}
	wantRows, gotRows := query(want), query(got)
	if len(wantRows) == 0 {
		t.Fatal("the uninterrupted run wrote no rows")
	}
	if len(gotRows) != len(wantRows) {
		t.Errorf("rows: got %d, want %d", len(gotRows), len(wantRows))
	}
	for i := range min(len(gotRows), len(wantRows)) {
		if fmt.Sprint(gotRows[i]) != fmt.Sprint(wantRows[i]) {
			t.Fatalf("row %d differs:\n got %v\nwant %v", i, gotRows[i], wantRows[i])
		}
	}
	dups := testenv.DuckDB(t, fmt.Sprintf(
		"SELECT window_start, page, count(*) AS n FROM read_parquet('%s/out/page_stats/**/*.parquet') GROUP BY ALL HAVING n > 1", got))
	if len(dups) > 0 {
		t.Errorf("duplicate rows: %v", dups)
	}
	if w, g := deadLetters(t, want), deadLetters(t, got); !slices.Equal(w, g) || len(w) == 0 {
		t.Errorf("dead letters: got %d, want %d (and more than 0)", len(g), len(w))
	}
	if pending, _ := filepath.Glob(filepath.Join(got, "out", "page_stats", "*", "*", ".*.pending")); len(pending) > 0 {
		t.Errorf("staged files left after the run finished: %v", pending)
	}
}

func deadLetters(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "out", "dead_letter", "*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.Split(strings.TrimSpace(string(data)), "\n")...)
	}
	slices.Sort(lines)
	return lines
}
