package file_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sources/file"
)

// A final line without a newline is a record whose position is the end of
// the file. When a writer later terminates that line and appends more, a
// restart from that position must resume after it instead of refusing the
// position as "not at the end of a line".
func TestResumeAfterUnterminatedLineThatGotItsNewline(t *testing.T) {
	tests := []struct {
		name, before, appended string
		wantLines              []string
		wantPos                []int64
	}{
		{"lf", "{\"a\":1}\n{\"a\":2}", "\n{\"a\":3}\n", []string{`{"a":3}`}, []int64{24}},
		{"crlf", "{}\r\n[1]", "\r\n{}\r\n", []string{"{}"}, []int64{13}},
		{"only the newline", "{}\n[1]", "\n", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			path := filepath.Join(t.TempDir(), "f.jsonl")
			if err := os.WriteFile(path, []byte(tc.before), 0o644); err != nil {
				t.Fatal(err)
			}
			src, err := file.New(file.Config{Glob: path, Mem: mem})
			if err != nil {
				t.Fatal(err)
			}
			_, pos := readAll(t, src, path, 0)
			last := pos[len(pos)-1]
			if last != int64(len(tc.before)) {
				t.Fatalf("final record at %d, want %d", last, len(tc.before))
			}
			appendTo(t, path, tc.appended)
			lines, gotPos := readAll(t, src, path, last)
			if fmt.Sprint(lines) != fmt.Sprint(tc.wantLines) || fmt.Sprint(gotPos) != fmt.Sprint(tc.wantPos) {
				t.Errorf("got %q at %v, want %q at %v", lines, gotPos, tc.wantLines, tc.wantPos)
			}
		})
	}
}

// A position inside a line that was extended (the writer was mid-line) is
// still refused: the record read there was a fragment.
func TestResumeInsideAnExtendedLineIsRefused(t *testing.T) {
	for _, tc := range []struct{ before, appended string }{
		{"{\"a\":1}\n{\"a\"", ":2}\n"},
		{"{}\n[1", "\r2]\n"},
	} {
		path := filepath.Join(t.TempDir(), "f.jsonl")
		if err := os.WriteFile(path, []byte(tc.before), 0o644); err != nil {
			t.Fatal(err)
		}
		src, err := file.New(file.Config{Glob: path})
		if err != nil {
			t.Fatal(err)
		}
		appendTo(t, path, tc.appended)
		after := pipeline.Position{N: int64(len(tc.before))}
		if r, err := src.OpenShard(t.Context(), pipeline.Shard{ID: path}, after); err == nil {
			r.Close()
			t.Errorf("%q + %q: OpenShard(after %d) = nil error, want one", tc.before, tc.appended, after.N)
		}
	}
}

// Lines appended while the shard is being read, before it reaches the end
// of the file, are read, in order, with their offsets.
func TestFileGrowsWhileRead(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := filepath.Join(t.TempDir(), "f.jsonl")
	if err := os.WriteFile(path, []byte(strings.Repeat("{}\n", 3)), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := file.New(file.Config{Glob: path, BatchSize: 1, Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	r, err := src.OpenShard(t.Context(), pipeline.Shard{ID: path}, pipeline.Position{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var pos []int64
	for i := 0; ; i++ {
		if i == 1 {
			appendTo(t, path, "[1]\r\n\n[2]\n")
		}
		b, err := r.Read(t.Context())
		if errors.Is(err, pipeline.ErrShardEnd) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n := b.Rec.Column(3).(*array.Int64)
		for j := range b.Len() {
			pos = append(pos, n.Value(j))
		}
		b.Release()
	}
	if want := "[3 6 9 14 19]"; fmt.Sprint(pos) != want {
		t.Errorf("positions %v, want %s", pos, want)
	}
}

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}
