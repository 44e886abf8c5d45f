package main

import (
	"context"
	"github.com/shardflow/shardflow/internal/testenv"
	"io"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/internal/arrowpool"
	"github.com/shardflow/shardflow/jobs"
)

// TestRunSameWithPool runs the clickstream job of the command (which gives
// the source and the job one arrowpool.Pool) and the same job on
// memory.GoAllocator, and wants the same page_stats rows and dead letters:
// a sink or an operator that read a batch's bytes after releasing it would
// see a recycled buffer's new contents. A third run on a checked pool wants
// every byte released and buffers reused, so that the comparison tests
// something.
func TestRunSameWithPool(t *testing.T) {
	gen := []string{"--events", "80000", "--shards", "16", "--seed", "3", "--bad-every", "2000"}
	cli := t.TempDir()
	args := append([]string{"run", "clickstream", "--status", "off", "--out", filepath.Join(cli, "out"), "--checkpoints", filepath.Join(cli, "ckpt")}, gen...)
	if code, out, errs := runCLI(t, args...); code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}

	f := runFlags{source: "generator", interval: 10 * time.Second, events: 80000, shards: 16, seed: 3, badEvery: 2000, logLevel: "warn", status: "off"}
	runWith := func(mem memory.Allocator) string {
		dir := t.TempDir()
		f := f
		f.out, f.checkpoints = filepath.Join(dir, "out"), filepath.Join(dir, "ckpt")
		if err := runJob(context.Background(), "clickstream", f, jobs.SourceOptions{Mem: mem}, io.Discard, io.Discard); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	plain := runWith(memory.NewGoAllocator())

	pool, err := arrowpool.New(arrowpool.Config{})
	if err != nil {
		t.Fatal(err)
	}
	checked := memory.NewCheckedAllocator(pool)
	pooled := runWith(checked)
	checked.AssertSize(t, 0)
	if st := pool.Stats(); st.Hits == 0 {
		t.Errorf("pool stats %+v: no buffer was reused", st)
	}

	want, wantDead := testenv.ParquetRows(t, filepath.Join(plain, "out", "page_stats")), deadLetters(t, plain)
	if len(want) == 0 || len(wantDead) == 0 {
		t.Fatalf("the run on GoAllocator wrote %d page_stats rows, %d dead letters", len(want), len(wantDead))
	}
	for name, dir := range map[string]string{"the command": cli, "the checked pool": pooled} {
		if got := testenv.ParquetRows(t, filepath.Join(dir, "out", "page_stats")); !slices.Equal(got, want) {
			t.Errorf("%s: page_stats differs: %d rows, %d on GoAllocator; first %v, want %v", name, len(got), len(want), got[:min(2, len(got))], want[:2])
		}
		if got := deadLetters(t, dir); !slices.Equal(got, wantDead) {
			t.Errorf("%s: dead letters differ: %d lines, %d on GoAllocator", name, len(got), len(wantDead))
		}
	}
}
