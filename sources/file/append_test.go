package file_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sources/file"
)

// A final line without its newline is not a record: the shard's position
// stays before it, and once its newline is written a run that resumes there
// reads it, once.
func TestPartialLineIsHeldBackUntilItsNewline(t *testing.T) {
	tests := []struct {
		name, before, appended string
		wantBefore             []string
		wantPos                int64 // of the last record before
		wantLines              []string
		wantLinePos            []int64
	}{
		{"lf", "{\"a\":1}\n{\"a\"", ":2}\n{\"a\":3}\n", []string{`{"a":1}`}, 8,
			[]string{`{"a":2}`, `{"a":3}`}, []int64{16, 24}},
		{"crlf", "{}\r\n[1]\r", "\n{}\r\n", []string{"{}"}, 4, []string{"[1]", "{}"}, []int64{9, 13}},
		{"only the newline", "{}\n[1]", "\n", []string{"{}"}, 3, []string{"[1]"}, []int64{7}},
		{"still no newline", "{}\n[1]", "[2]", []string{"{}"}, 3, nil, nil},
		{"an overlong line completed", "{}\n" + strings.Repeat("x", 100), "\n[1]\n", []string{"{}"}, 3,
			[]string{"dead: line of 100 bytes is longer than the limit of 64 bytes (MaxLineBytes)", "[1]"}, []int64{104, 108}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			path, src := newFileSource(t, tc.before, file.Config{MaxLineBytes: testMaxLine, Mem: mem})
			lines, pos := readAll(t, src, path, 0)
			if fmt.Sprint(lines) != fmt.Sprint(tc.wantBefore) || pos[len(pos)-1] != tc.wantPos {
				t.Fatalf("before: got %q at %v, want %q ending at %d", lines, pos, tc.wantBefore, tc.wantPos)
			}
			appendTo(t, path, tc.appended)
			lines, pos = readAll(t, src, path, tc.wantPos)
			if fmt.Sprint(lines) != fmt.Sprint(tc.wantLines) || fmt.Sprint(pos) != fmt.Sprint(tc.wantLinePos) {
				t.Errorf("after: got %q at %v, want %q at %v", lines, pos, tc.wantLines, tc.wantLinePos)
			}
		})
	}
}

// An older version read a final line without its newline as a record whose
// position is the end of the file. When a writer later terminates that line
// and appends more, a run resumed from such a checkpoint resumes after it
// instead of refusing the position as "not at the end of a line".
func TestResumeAnOlderPositionAfterAnUnterminatedLine(t *testing.T) {
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
			path, src := newFileSource(t, tc.before+tc.appended, file.Config{Mem: mem})
			lines, gotPos := readAll(t, src, path, int64(len(tc.before)))
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
		path, src := newFileSource(t, tc.before, file.Config{})
		appendTo(t, path, tc.appended)
		after := pipeline.Position{N: int64(len(tc.before))}
		if r, err := src.OpenShard(t.Context(), pipeline.Shard{ID: path}, after); err == nil {
			r.Close()
			t.Errorf("%q + %q: OpenShard(after %d) = nil error, want one", tc.before, tc.appended, after.N)
		}
	}
}

// At the end of its file a bounded read returns ErrBoundReached, not
// ErrShardEnd, so that the shard stays open in the checkpoint; lines appended
// since are read by a run that resumes from the shard's position, through a
// new source that adopts the checkpoint's identity.
func TestAppendedLinesAreReadFromThePosition(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path, src, r := openFileShard(t, "{\"a\":1}\n{\"a\":2}\n", file.Config{Mem: mem})
	b, err := r.Read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	last := b.Last
	b.Release()
	for range 2 { // sticky
		if _, err := r.Read(t.Context()); !errors.Is(err, pipeline.ErrBoundReached) {
			t.Fatalf("Read at the end = %v, want ErrBoundReached", err)
		}
	}
	r.Close()
	ckpt := src.Identity()

	appendTo(t, path, "{\"a\":3}\n")
	next, err := file.New(file.Config{Glob: path, Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	if err := next.Resume(ckpt); err != nil {
		t.Fatalf("Resume of a grown file: %v", err)
	}
	lines, pos := readAll(t, next, path, last.N)
	if fmt.Sprint(lines) != `[{"a":3}]` || fmt.Sprint(pos) != "[24]" {
		t.Errorf("got %q at %v, want [{\"a\":3}] at [24]", lines, pos)
	}
}

// Lines appended while the shard is being read, before it reaches the end
// of the file, are read, in order, with their offsets.
func TestFileGrowsWhileRead(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path, _, r := openFileShard(t, strings.Repeat("{}\n", 3), file.Config{BatchSize: 1, Mem: mem})
	defer r.Close()
	var pos []int64
	for i := 0; ; i++ {
		if i == 1 {
			appendTo(t, path, "[1]\r\n\n[2]\n")
		}
		b, err := r.Read(t.Context())
		if pipeline.ReadEnded(err) {
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
