package file_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sources/file"
	"github.com/shardflow/shardflow/sources/sourcetest"
)

const testMaxLine = 64

// expect computes the records of content independently of the reader: lines
// split at '\n', one trailing '\r' dropped, empty lines skipped; a final line
// without its newline is held back. Lines longer than maxLine are dead
// letters, which the conformance suite does not expect: its files have none.
func expect(content string, maxLine int) []sourcetest.Record {
	var recs []sourcetest.Record
	off := 0
	for {
		i := strings.IndexByte(content[off:], '\n')
		if i < 0 {
			return recs
		}
		line := content[off : off+i]
		off += i + 1
		if len(line) > maxLine {
			panic("expect: overlong line in a conformance file")
		}
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			continue
		}
		recs = append(recs, sourcetest.Record{Data: []byte(line), Pos: pipeline.Position{N: int64(off)}})
	}
}

// testFiles are the conformance suite's files.
func testFiles() map[string]string {
	var many strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&many, `{"i":%d,"pad":"%s"}`+"\n", i, strings.Repeat("x", i%40))
		if i%97 == 0 {
			many.WriteString("\n")
		}
	}
	return map[string]string{
		"a.jsonl": "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n",
		"b.jsonl": "\n\n{\"b\":1}\r\n\r\n{\"b\":2}\n\n{\"b\":3}",
		"c.jsonl": "",
		// d ends with an overlong line that has no newline yet: it is held
		// back, not dead-lettered. (Overlong lines are tested apart: the
		// suite wants no dead letters.)
		"d.jsonl": strings.Repeat("y", testMaxLine) + "\n{\"d\":1}\n" + strings.Repeat("y", testMaxLine-1) + "\r\n" +
			strings.Repeat("v", 2*testMaxLine),
		"e.jsonl": many.String(),
		"f.jsonl": "garbage that is not JSON\n{\"f\":\n",
	}
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "dir.jsonl"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestConformance(t *testing.T) {
	files := testFiles()
	dir := writeFiles(t, files)
	for _, tc := range []struct {
		batch  int
		follow bool
	}{{1, false}, {7, false}, {1000, false}, {7, true}} {
		t.Run(fmt.Sprintf("batch=%d,follow=%v", tc.batch, tc.follow), func(t *testing.T) {
			sourcetest.Run(t, func(t *testing.T, mem memory.Allocator) sourcetest.Fixture {
				src, err := file.New(file.Config{
					Glob: filepath.Join(dir, "*.jsonl"), BatchSize: tc.batch, MaxBatchBytes: 4096,
					MaxLineBytes: testMaxLine, Follow: tc.follow, PollInterval: 5 * time.Millisecond, Mem: mem,
				})
				if err != nil {
					t.Fatal(err)
				}
				want := map[string][]sourcetest.Record{}
				for name, content := range files {
					want[filepath.Join(dir, name)] = expect(content, testMaxLine)
				}
				return sourcetest.Fixture{Source: src, Want: want}
			})
		})
	}
}

// newFileSource writes content to f.jsonl in a new temporary directory and
// returns its path and a source of cfg over it (cfg.Glob is the path).
func newFileSource(t *testing.T, content string, cfg file.Config) (string, *file.Source) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f.jsonl")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.Glob = path
	src, err := file.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return path, src
}

// openFileShard is newFileSource with the file's shard opened at its start.
// The caller closes the reader (before it checks its allocator).
func openFileShard(t *testing.T, content string, cfg file.Config) (string, *file.Source, pipeline.ShardReader) {
	t.Helper()
	path, src := newFileSource(t, content, cfg)
	r, err := src.OpenShard(t.Context(), pipeline.Shard{ID: path}, pipeline.Position{})
	if err != nil {
		t.Fatal(err)
	}
	return path, src, r
}

// readAll reads a shard after a position to its end and returns the
// records' data and positions; a dead letter's data is "dead: " and its
// error.
func readAll(t *testing.T, src *file.Source, id string, after int64) (lines []string, pos []int64) {
	t.Helper()
	r, err := src.OpenShard(t.Context(), pipeline.Shard{ID: id}, pipeline.Position{N: after})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for {
		b, err := r.Read(t.Context())
		if pipeline.ReadEnded(err) {
			return lines, pos
		}
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			continue
		}
		l, p := rows(t, b)
		lines, pos = append(lines, l...), append(pos, p...)
	}
}

// rows returns the data and positions of b's rows, a dead letter's data as
// "dead: " and its error, and releases b.
func rows(t *testing.T, b *pipeline.Batch) (lines []string, pos []int64) {
	t.Helper()
	defer b.Release()
	if b.Side == pipeline.DeadLetterSide {
		p := b.Rec.Column(2).(*array.String)
		e := b.Rec.Column(3).(*array.String)
		for i := range b.Len() {
			n, err := strconv.ParseInt(p.Value(i), 10, 64)
			if err != nil {
				t.Fatalf("dead letter position %q: %v", p.Value(i), err)
			}
			lines = append(lines, "dead: "+e.Value(i))
			pos = append(pos, n)
		}
		return lines, pos
	}
	data := b.Rec.Column(0).(*array.Binary)
	n := b.Rec.Column(3).(*array.Int64)
	for i := range b.Len() {
		lines = append(lines, string(data.Value(i)))
		pos = append(pos, n.Value(i))
	}
	return lines, pos
}

func TestLines(t *testing.T) {
	tests := []struct {
		name      string
		content   string
		after     int64
		wantLines []string
		wantPos   []int64
	}{
		{"trailing newline", "{}\n[1]\n", 0, []string{"{}", "[1]"}, []int64{3, 7}},
		{"no trailing newline: the last line is held back", "{}\n[1]", 0, []string{"{}"}, []int64{3}},
		{"empty lines advance the offset", "\n\n{}\n\n\n[1]\n\n", 0, []string{"{}", "[1]"}, []int64{5, 11}},
		{"crlf", "{}\r\n\r\n[1]\r\n", 0, []string{"{}", "[1]"}, []int64{4, 11}},
		{"a lone carriage return is held back", "{}\n\r", 0, []string{"{}"}, []int64{3}},
		{"only empty lines", "\n\n\n", 0, nil, nil},
		{"empty file", "", 0, nil, nil},
		{"resume mid-file", "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n", 8, []string{`{"a":2}`, `{"a":3}`}, []int64{16, 24}},
		{"resume at the last line", "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n", 16, []string{`{"a":3}`}, []int64{24}},
		{"resume at the end", "{\"a\":1}\n{\"a\":2}\n", 16, nil, nil},
		{"resume before an unterminated line", "{\"a\":1}\n{\"a\":2}", 8, nil, nil},
		// Only an older version wrote such a position (it read a final line
		// without its newline as a record).
		{"resume at the end after an unterminated line", "{\"a\":1}\n{\"a\":2}", 15, nil, nil},
		{"long line is dead-lettered, the next read", "{}\n" + strings.Repeat("x", 100) + "\n{}\n", 0,
			[]string{"{}", "dead: line of 100 bytes is longer than the limit of 64 bytes (MaxLineBytes)", "{}"}, []int64{3, 104, 107}},
		{"a valid object padded past the limit is not a record", "{\"a\":1}" + strings.Repeat(" ", 90) + "\"x\"\n[1]\n", 0,
			[]string{"dead: line of 100 bytes is longer than the limit of 64 bytes (MaxLineBytes)", "[1]"}, []int64{101, 105}},
		{"long lines in a row", strings.Repeat("x", 100) + "\n" + strings.Repeat("y", 65) + "\r\n", 0,
			[]string{"dead: line of 100 bytes is longer than the limit of 64 bytes (MaxLineBytes)", "dead: line of 66 bytes is longer than the limit of 64 bytes (MaxLineBytes)"},
			[]int64{101, 168}},
		{"long final line without its newline is held back", "{}\n" + strings.Repeat("x", 1000), 0, []string{"{}"}, []int64{3}},
		{"line of exactly the limit", strings.Repeat("x", testMaxLine) + "\n", 0,
			[]string{strings.Repeat("x", testMaxLine)}, []int64{testMaxLine + 1}},
		// The carriage return of a CRLF line is not part of the record, so it
		// does not count against the limit.
		{"crlf line of exactly the limit", strings.Repeat("x", testMaxLine) + "\r\n{}\n", 0,
			[]string{strings.Repeat("x", testMaxLine), "{}"}, []int64{testMaxLine + 2, testMaxLine + 5}},
		{"crlf line of exactly the limit, unterminated", strings.Repeat("x", testMaxLine) + "\r", 0, nil, nil},
		{"line of the limit and a lone carriage return", strings.Repeat("x", testMaxLine) + "\rx\n", 0,
			[]string{"dead: line of 66 bytes is longer than the limit of 64 bytes (MaxLineBytes)"}, []int64{testMaxLine + 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			path, src := newFileSource(t, tc.content, file.Config{MaxLineBytes: testMaxLine, Mem: mem})
			lines, pos := readAll(t, src, path, tc.after)
			if fmt.Sprint(lines) != fmt.Sprint(tc.wantLines) || fmt.Sprint(pos) != fmt.Sprint(tc.wantPos) {
				t.Errorf("got %q at %v, want %q at %v", lines, pos, tc.wantLines, tc.wantPos)
			}
		})
	}
}

func TestResumeMidFileMatchesFullRead(t *testing.T) {
	dir := writeFiles(t, testFiles())
	path := filepath.Join(dir, "e.jsonl")
	src, err := file.New(file.Config{Glob: path, BatchSize: 333})
	if err != nil {
		t.Fatal(err)
	}
	lines, pos := readAll(t, src, path, 0)
	for _, k := range []int{0, 1, 96, 97, 2500, len(lines) - 2} {
		got, gotPos := readAll(t, src, path, pos[k])
		if fmt.Sprint(got) != fmt.Sprint(lines[k+1:]) || fmt.Sprint(gotPos) != fmt.Sprint(pos[k+1:]) {
			t.Errorf("resume after record %d (offset %d): got %d records, want %d", k, pos[k], len(got), len(lines)-k-1)
		}
	}
}

func TestOpenShardRejectsBadPositions(t *testing.T) {
	path, src := newFileSource(t, "{\"a\":1}\n{\"a\":2}\n", file.Config{})
	for _, pos := range []pipeline.Position{{N: 3}, {N: 17}, {N: -1}, {Seq: "1", N: 8}} {
		if r, err := src.OpenShard(t.Context(), pipeline.Shard{ID: path}, pos); err == nil {
			r.Close()
			t.Errorf("OpenShard(after %q) = nil error, want one", pos)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ok.jsonl"), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub.jsonl"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cfg     file.Config
		wantErr string // "" = valid
	}{
		{"valid", file.Config{Glob: filepath.Join(dir, "*.jsonl")}, ""},
		{"empty glob", file.Config{}, "glob is empty"},
		{"malformed glob", file.Config{Glob: filepath.Join(dir, "[a-")}, "is malformed"},
		{"no match", file.Config{Glob: filepath.Join(dir, "*.csv")}, "matches no file"},
		{"only a directory", file.Config{Glob: filepath.Join(dir, "sub.*")}, "matches no file"},
		{"negative batch", file.Config{Glob: filepath.Join(dir, "*.jsonl"), BatchSize: -1}, "batch size"},
		{"huge line limit", file.Config{Glob: filepath.Join(dir, "*.jsonl"), MaxLineBytes: 1 << 30}, "max line bytes"},
		{"negative batch bytes", file.Config{Glob: filepath.Join(dir, "*.jsonl"), MaxBatchBytes: -5}, "max batch bytes"},
		{"negative poll interval", file.Config{Glob: filepath.Join(dir, "*.jsonl"), Follow: true, PollInterval: -time.Second}, "poll interval"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			_, newErr := file.New(tc.cfg)
			switch {
			case tc.wantErr == "" && (err != nil || newErr != nil):
				t.Fatalf("Validate = %v, New = %v, want no error", err, newErr)
			case tc.wantErr != "" && (err == nil || newErr == nil):
				t.Fatalf("Validate = %v, New = %v, want errors containing %q", err, newErr, tc.wantErr)
			case tc.wantErr != "":
				if !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "file: ") {
					t.Errorf("Validate = %q, want a \"file: \" error containing %q", err, tc.wantErr)
				}
				namesGlob := tc.wantErr == "is malformed" || tc.wantErr == "matches no file"
				if namesGlob && !strings.Contains(err.Error(), tc.cfg.Glob) {
					t.Errorf("Validate = %q, want it to name the glob %q", err, tc.cfg.Glob)
				}
			}
		})
	}
}

func TestUnreadableFile(t *testing.T) {
	if os.Geteuid() == 0 {
		// root reads files whatever their mode; check the error path with a
		// dangling symlink instead, which os.Stat cannot follow either.
		dir := t.TempDir()
		if err := os.Symlink(filepath.Join(dir, "missing"), filepath.Join(dir, "x.jsonl")); err != nil {
			t.Fatal(err)
		}
		if err := (file.Config{Glob: filepath.Join(dir, "*.jsonl")}).Validate(); err == nil {
			t.Fatal("Validate accepted a dangling symlink")
		}
		return
	}
	path := filepath.Join(t.TempDir(), "x.jsonl")
	if err := os.WriteFile(path, []byte("{}\n"), 0o000); err != nil {
		t.Fatal(err)
	}
	if err := (file.Config{Glob: path}).Validate(); err == nil {
		t.Fatal("Validate accepted an unreadable file")
	}
}

func TestReadAfterClose(t *testing.T) {
	_, _, r := openFileShard(t, "{}\n", file.Config{})
	r.Close()
	if _, err := r.Read(t.Context()); !errors.Is(err, file.ErrClosed) {
		t.Errorf("Read after Close = %v, want ErrClosed", err)
	}
}
