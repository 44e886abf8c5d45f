package staging

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shardflow/shardflow/pipeline"
)

func TestCommitterCountsAndPrefixes(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	a, err := NewArea(root, "jsonl", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := NewCommitter("jsonl", a)
	if _, err := a.Create(".", 0); err == nil {
		t.Fatal("Create before Recover succeeded")
	}
	if err := c.Recover(ctx, pipeline.Recovery{Job: "test", Run: "r1"}); err != nil {
		t.Fatal(err)
	}
	for _, seq := range []int{0, 1} {
		f, err := a.Create(".", seq)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte("{}\n")); err != nil {
			t.Fatal(err)
		}
	}
	h, err := c.PreCommit(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Commit(ctx, 4, h); err != nil {
		t.Fatal(err)
	}
	if err := c.Commit(ctx, 4, h); err != nil { // a retry: nothing renamed
		t.Fatal(err)
	}
	c2 := NewCommitter("jsonl", a)
	if err := c2.Recover(ctx, pipeline.Recovery{Job: "test", Run: "r1", ID: 4, Handle: h}); err != nil { // already committed: nothing renamed
		t.Fatal(err)
	}
	if n, m := c.FilesCommitted(), c.Commits(); n != 2 || m != 1 {
		t.Fatalf("FilesCommitted, Commits = %d, %d, want 2, 1", n, m)
	}
	if got := c2.Counters(); got["files_committed"] != 0 || got["commits"] != 1 {
		t.Fatalf("Counters after Recover = %v, want 0 files and 1 commit", got)
	}
	if err := c.Commit(ctx, 5, h); err == nil || !strings.HasPrefix(err.Error(), "jsonl: staging: commit 5") {
		t.Fatalf("Commit of another checkpoint's handle = %v", err)
	}

	// Close deletes the open staged file and keeps the committed ones.
	if _, err := a.Create(".", 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	names, err := filepath.Glob(filepath.Join(root, "part-*"))
	if err != nil {
		t.Fatal(err)
	}
	hidden, _ := filepath.Glob(filepath.Join(root, ".*"))
	if len(names) != 2 || len(hidden) != 0 {
		t.Fatalf("after Close: %v and %v, want the two committed files only", names, hidden)
	}
	if _, err := os.Stat(filepath.Join(root, FinalName("r1", 4, 1, "jsonl"))); err != nil {
		t.Fatal(err)
	}
}
