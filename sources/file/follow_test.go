package file_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sources/file"
)

// nextBatch reads r until a batch arrives (a following reader returns nil
// while nothing is new) and returns its rows.
func nextBatch(t *testing.T, r pipeline.ShardReader) (lines []string, pos []int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		b, err := r.Read(ctx)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if b != nil {
			return rows(t, b)
		}
	}
}

func TestFollowReadsNewLinesAndNewFiles(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	a := filepath.Join(dir, "a.jsonl")
	if err := os.WriteFile(a, []byte("{\"a\":1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := file.New(file.Config{Glob: filepath.Join(dir, "*.jsonl"), Follow: true, PollInterval: time.Millisecond, Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	if src.Bounded() {
		t.Error("a following source is bounded")
	}
	r, err := src.OpenShard(t.Context(), pipeline.Shard{ID: a}, pipeline.Position{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if lines, _ := nextBatch(t, r); fmt.Sprint(lines) != `[{"a":1}]` {
		t.Fatalf("first batch %q", lines)
	}
	b, err := r.Read(t.Context())
	if b != nil || err != nil || !r.(pipeline.IdleReporter).Idle() {
		t.Fatalf("Read at the end = %v, %v, idle %v; want nil, nil, idle", b, err, r.(pipeline.IdleReporter).Idle())
	}

	appendTo(t, a, "{\"a\":2}\n{\"a\"") // the second line is not complete yet
	if lines, pos := nextBatch(t, r); fmt.Sprint(lines, pos) != `[{"a":2}] [16]` {
		t.Fatalf("after an append: %q at %v", lines, pos)
	}
	if r.(pipeline.IdleReporter).Idle() {
		t.Error("idle right after a batch")
	}
	appendTo(t, a, ":3}\n")
	if lines, pos := nextBatch(t, r); fmt.Sprint(lines, pos) != `[{"a":3}] [24]` {
		t.Fatalf("after the newline: %q at %v", lines, pos)
	}

	bPath := filepath.Join(dir, "b.jsonl")
	if err := os.WriteFile(bPath, []byte("{\"b\":1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	shards, err := src.Shards(t.Context())
	if err != nil || !slices.ContainsFunc(shards, func(s pipeline.Shard) bool { return s.ID == bPath }) {
		t.Fatalf("Shards = %v, %v; want the new file", shards, err)
	}
	rb, err := src.OpenShard(t.Context(), pipeline.Shard{ID: bPath}, pipeline.Earliest)
	if err != nil {
		t.Fatal(err)
	}
	defer rb.Close()
	if lines, _ := nextBatch(t, rb); fmt.Sprint(lines) != `[{"b":1}]` {
		t.Fatalf("new file: %q", lines)
	}
}

func TestFollowRefusesATruncatedFile(t *testing.T) {
	path, _, r := openFileShard(t, twoLines, file.Config{Follow: true, PollInterval: time.Millisecond})
	defer r.Close()
	nextBatch(t, r)
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	for {
		b, err := r.Read(t.Context())
		if err != nil {
			wantIncompatible(t, "Read", err, path, "truncated")
			return
		}
		if b != nil {
			t.Fatalf("a batch after truncation: %d rows", b.Len())
		}
	}
}

// A followed file that is deleted ends its shard once what was written is
// read, and the source forgets it.
func TestFollowEndsADeletedFile(t *testing.T) {
	path, src, r := openFileShard(t, twoLines, file.Config{Follow: true, PollInterval: time.Millisecond})
	defer r.Close()
	nextBatch(t, r)
	appendTo(t, path, "[1]\n")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for {
		b, err := r.Read(t.Context())
		if errors.Is(err, pipeline.ErrShardEnd) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if b != nil {
			l, _ := rows(t, b)
			lines = append(lines, l...)
		}
	}
	if fmt.Sprint(lines) != "[[1]]" {
		t.Errorf("read %q after the delete, want the line appended before it", lines)
	}
	if strings.Contains(string(src.Identity()), `"`+path+`":`) {
		t.Errorf("Identity = %s, still names the deleted file", src.Identity())
	}

	// A file created later at the same path is a new file, not a replaced one.
	if err := os.WriteFile(path, []byte("[2]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r2, err := src.OpenShard(t.Context(), pipeline.Shard{ID: path}, pipeline.Earliest)
	if err != nil {
		t.Fatalf("OpenShard of a file created again: %v", err)
	}
	defer r2.Close()
	if lines, _ := nextBatch(t, r2); fmt.Sprint(lines) != "[[2]]" {
		t.Errorf("file created again: %q", lines)
	}
}

// A following Read that waits for appended bytes returns when its context ends.
func TestFollowReadReturnsOnCancel(t *testing.T) {
	_, _, r := openFileShard(t, "", file.Config{Follow: true, PollInterval: time.Hour})
	defer r.Close()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() {
		_, err := r.Read(ctx)
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Read = %v, want context.Canceled", err)
	}
}
