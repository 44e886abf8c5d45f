package jobs

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/pipeline"
)

// file://GLOB?follow=1 makes an unbounded file source; a '?' of the glob
// that starts no parameter stays in the glob.
func TestOpenFileSourceFollow(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.jsonl"), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		spec    string
		bounded bool
		err     string
	}{
		{"file://" + dir + "/*.jsonl", true, ""},
		{"file://" + dir + "/*.jsonl?follow=1", false, ""},
		{"file://" + dir + "/*.jsonl?follow=true", false, ""},
		{"file://" + dir + "/*.jsonl?follow=0", true, ""},
		{"file://" + dir + "/?.jsonl", true, ""},
		{"file://" + dir + "/?.jsonl?follow=1", false, ""},
		{"file://" + dir + "/*.jsonl?follow=yes", false, `follow="yes", want 1, true, 0 or false`},
		{"file://" + dir + "/*.jsonl?poll=1s", false, `unknown parameter "poll" (want follow)`},
		{"file://" + dir + "/*.csv?follow=1", false, "matches no file"},
	} {
		src, err := OpenSource(context.Background(), tc.spec, SourceOptions{})
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: got %v, want an error containing %q", tc.spec, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.spec, err)
		case tc.err == "" && src.Bounded() != tc.bounded:
			t.Errorf("%s: Bounded() = %v, want %v", tc.spec, src.Bounded(), tc.bounded)
		}
	}
}

// SourceOptions.Mem allocates the batches of the generator and of the file
// source alike (Kinesis takes it the same way, in its Config).
func TestOpenSourceMem(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.jsonl"), []byte("{\"a\":1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, spec := range []string{"generator", "file://" + dir + "/*.jsonl"} {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		ctx := context.Background()
		src, err := OpenSource(ctx, spec, SourceOptions{Mem: mem, Generator: DefaultGenerator()})
		if err != nil {
			t.Fatal(err)
		}
		shards, err := src.Shards(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r, err := src.OpenShard(ctx, shards[0], pipeline.Position{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := r.Read(ctx)
		if err != nil || b.Len() == 0 {
			t.Fatalf("%s: read %d records, %v", spec, b.Len(), err)
		}
		if mem.CurrentAlloc() == 0 {
			t.Errorf("%s: the batch of %d records is not from SourceOptions.Mem", spec, b.Len())
		}
		b.Release()
		r.Close()
		mem.AssertSize(t, 0)
	}
}
