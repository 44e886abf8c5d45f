package staging

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shardflow/shardflow/pipeline"
)

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		run         string
		id          uint64
		seq         int
		final, stag string
	}{
		{"3f9a0c12ab45", 1, 0, "part-3f9a0c12ab45-00000001-0000.parquet", ".part-3f9a0c12ab45-00000001-0000.parquet.pending"},
		{"r-1", 123456789, 42, "part-r-1-123456789-0042.parquet", ".part-r-1-123456789-0042.parquet.pending"},
		{"12345678", 3, 9999, "part-12345678-00000003-9999.parquet", ".part-12345678-00000003-9999.parquet.pending"},
	} {
		if got := FinalName(tc.run, tc.id, tc.seq, "parquet"); got != tc.final {
			t.Errorf("FinalName(%s, %d, %d) = %s, want %s", tc.run, tc.id, tc.seq, got, tc.final)
		}
		if got := StagedName(tc.run, tc.id, tc.seq, "parquet"); got != tc.stag || !IsStagedName(got) || IsStagedName(tc.final) {
			t.Errorf("StagedName(%s, %d, %d) = %s, want %s", tc.run, tc.id, tc.seq, got, tc.stag)
		}
		for _, name := range []string{tc.final, tc.stag} {
			n, err := ParseName(name)
			want := Name{Run: tc.run, Checkpoint: tc.id, Seq: tc.seq, Ext: "parquet", Staged: name == tc.stag}
			if err != nil || n != want {
				t.Errorf("ParseName(%s) = %+v, %v, want %+v", name, n, err, want)
			}
		}
	}
}

func TestParseName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want Name
		err  string
	}{
		{"part-00000003-0001.jsonl", Name{Checkpoint: 3, Seq: 1, Ext: "jsonl"}, ""}, // before names had runs
		{".part-00000003-0001.jsonl.pending", Name{Checkpoint: 3, Seq: 1, Ext: "jsonl", Staged: true}, ""},
		{"part-ab-123456789-0000.tar.gz", Name{Run: "ab", Checkpoint: 123456789, Seq: 0, Ext: "tar.gz"}, ""},
		{"part-ab-00000003-01.parquet", Name{}, "sequence"},
		{"part-ab-0000003-0001.parquet", Name{}, "checkpoint"},
		{"part-AB-00000003-0001.parquet", Name{}, "run id"},
		{"part-" + strings.Repeat("a", 33) + "-00000003-0001.parquet", Name{}, "run id"},
		{"part--00000003-0001.parquet", Name{}, "run id"},
		{"part-ab-00000003-0001", Name{}, "extension"},
		{"data-ab-00000003-0001.parquet", Name{}, "want part-"},
	} {
		n, err := ParseName(tc.name)
		if tc.err == "" && (err != nil || n != tc.want) || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("ParseName(%s) = %+v, %v, want %+v or an error containing %q", tc.name, n, err, tc.want, tc.err)
		}
	}
	for _, run := range []string{"", "A", "a_b", "a.b", strings.Repeat("x", 33)} {
		if ValidateRun(run) == nil {
			t.Errorf("ValidateRun(%q) succeeded", run)
		}
	}
	for _, run := range []string{"3f9a0c12ab45", "a", "run-1", strings.Repeat("x", 32)} {
		if err := ValidateRun(run); err != nil {
			t.Errorf("ValidateRun(%q) = %v", run, err)
		}
	}
}

func TestParseHandle(t *testing.T) {
	for _, tc := range []struct {
		name, json, err string
	}{
		{"ok", `{"v":1,"id":3,"files":[{"staged":"a/.part-r1-00000003-0000.x.pending","final":"a/part-r1-00000003-0000.x"}]}`, ""},
		{"before runs", `{"v":1,"id":3,"files":[{"staged":"a/.part-00000003-0000.x.pending","final":"a/part-00000003-0000.x"}]}`, ""},
		{"other file", `{"v":1,"id":3,"files":[{"staged":"a/.part-r1-00000003-0000.x.pending","final":"a/part-r1-00000003-0001.x"}]}`, "bad entry"},
		{"other run", `{"v":1,"id":3,"files":[{"staged":"a/.part-r1-00000003-0000.x.pending","final":"a/part-r2-00000003-0000.x"}]}`, "bad entry"},
		{"skipped id", `{"v":1,"id":3,"files":[{"staged":"a/.part-r1-00000002-0000.x.pending","final":"a/part-r1-00000003-0000.x"}]}`, ""},
		{"other checkpoint", `{"v":1,"id":3,"files":[{"staged":"a/.part-r1-00000003-0000.x.pending","final":"a/part-r1-00000004-0000.x"}]}`, "bad entry"},
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
	if _, err := other.Recover(ctx, pipeline.Recovery{Job: "test", Run: "r1"}); err != nil {
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
	if _, err := a.Recover(ctx, pipeline.Recovery{Job: "test", Run: "r1"}); err != nil {
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
	if _, err := a.Create(LogDir, 0); err == nil {
		t.Fatal("Create accepted the commit log's directory")
	}
}
