package staging

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		id          uint64
		seq         int
		final, stag string
	}{
		{1, 0, "part-00000001-0000.parquet", ".part-00000001-0000.parquet.pending"},
		{123456789, 42, "part-123456789-0042.parquet", ".part-123456789-0042.parquet.pending"},
	} {
		if got := FinalName(tc.id, tc.seq, "parquet"); got != tc.final {
			t.Errorf("FinalName(%d, %d) = %s, want %s", tc.id, tc.seq, got, tc.final)
		}
		if got := StagedName(tc.id, tc.seq, "parquet"); got != tc.stag || !IsStagedName(got) || IsStagedName(tc.final) {
			t.Errorf("StagedName(%d, %d) = %s, want %s", tc.id, tc.seq, got, tc.stag)
		}
	}
}

func TestParseHandle(t *testing.T) {
	for _, tc := range []struct {
		name, json, err string
	}{
		{"ok", `{"v":1,"id":3,"files":[{"staged":"a/.part-00000003-0000.x.pending","final":"a/part-00000003-0000.x"}]}`, ""},
		{"empty", `{"v":1,"id":3,"files":[]}`, ""},
		{"not json", `nope`, "handle"},
		{"version", `{"v":2,"id":3}`, "version 2"},
		{"escape", `{"v":1,"id":3,"files":[{"staged":"../.part-1.x.pending","final":"../part-1.x"}]}`, "bad entry"},
		{"absolute", `{"v":1,"id":3,"files":[{"staged":"/tmp/.part-1.x.pending","final":"/tmp/part-1.x"}]}`, "bad entry"},
		{"other dir", `{"v":1,"id":3,"files":[{"staged":"a/.part-1.x.pending","final":"b/part-1.x"}]}`, "bad entry"},
		{"not staged", `{"v":1,"id":3,"files":[{"staged":"a/data.x","final":"a/part-1.x"}]}`, "bad entry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseHandle([]byte(tc.json))
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("ParseHandle = %v, want error containing %q", err, tc.err)
			}
		})
	}
}

func TestAreaKeepsOtherFiles(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	other, err := NewArea(root, "jsonl", nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := other.Create(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("{}\n"))
	a, err := NewArea(root, "parquet", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Recover(ctx, 0, nil); err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(root, ".part-*.jsonl.pending")); len(m) != 1 {
		t.Fatalf("a parquet area's Recover deleted a jsonl staged file: %v", m)
	}
	if err := other.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Create("x", 10000); err == nil {
		t.Fatal("Create accepted sequence 10000")
	}
	if _, err := a.Create("../x", 0); err == nil {
		t.Fatal("Create accepted a directory outside the root")
	}
}
