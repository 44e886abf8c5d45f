package parquet

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	pq "github.com/parquet-go/parquet-go"

	"github.com/shardflow/shardflow/pipeline"
)

// memFiles is a Files in memory whose files span checkpoints until told to
// roll; it keeps, for every checkpoint of a file, the bytes written so far
// with the footer the sink gave, which is how s3out finishes a file after a
// restore.
type memFiles struct {
	files []*memFile
	roll  bool
}

type memFile struct {
	files    *memFiles
	dir      string
	buf      bytes.Buffer
	finished bool
	ends     [][]byte // the bytes so far plus the footer, per checkpoint
}

func (m *memFiles) Create(dir string, seq int) (File, error) {
	f := &memFile{files: m, dir: dir}
	m.files = append(m.files, f)
	return f, nil
}
func (m *memFiles) PreCommit(context.Context, uint64) ([]byte, error) { return []byte("{}"), nil }
func (m *memFiles) Commit(context.Context, uint64, []byte) error      { return nil }
func (m *memFiles) Recover(context.Context, pipeline.Recovery) error  { return nil }
func (m *memFiles) Close(context.Context) error                       { return nil }
func (m *memFiles) Counters() map[string]int64                        { return map[string]int64{} }
func (f *memFile) Write(p []byte) (int, error)                        { return f.buf.Write(p) }
func (f *memFile) Path() string                                       { return f.dir }
func (f *memFile) Finish() error                                      { f.finished = true; return nil }
func (f *memFile) Roll() bool                                         { return f.files.roll }
func (f *memFile) Full() bool                                         { return false }
func (f *memFile) Checkpoint(footer []byte) error {
	f.ends = append(f.ends, append(bytes.Clone(f.buf.Bytes()), footer...))
	return nil
}

func parquetRows(t *testing.T, b []byte) int64 {
	t.Helper()
	f, err := pq.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("not a Parquet file: %v", err)
	}
	return f.NumRows()
}

// A SpanningFile stays open over checkpoints; at each, the bytes written so
// far and the footer the sink gives are a Parquet file of the rows so far;
// the rolled file has every row, also when the checkpoint that rolls it
// brought no row since the one before (the footer then is the last
// checkpoint's).
func TestSpanningFileFootersEndTheFileAtEachCheckpoint(t *testing.T) {
	for _, lastEmpty := range []bool{false, true} {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		ctx := context.Background()
		files := &memFiles{}
		s, err := New(Config{Dir: "mem", Table: "t", RowGroupRows: 64}, WithFiles(files))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Bind(pageStatsSchema); err != nil {
			t.Fatal(err)
		}
		rows := 0
		for id := uint64(1); id <= 4; id++ {
			if id == 4 {
				files.roll = true
			}
			if !(id == 4 && lastEmpty) {
				if err := s.Write(ctx, pageStatsBatch(mem, rows, 100)); err != nil { // hour 22 only
					t.Fatal(err)
				}
				rows += 100
			}
			if _, err := s.PreCommit(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		mem.AssertSize(t, 0)
		if len(files.files) != 1 {
			t.Fatalf("%d files, want 1 over 4 checkpoints", len(files.files))
		}
		f := files.files[0]
		if len(f.ends) != 3 || !f.finished {
			t.Fatalf("%d checkpoint footers, finished %v; want 3 and finished", len(f.ends), f.finished)
		}
		for i, end := range f.ends {
			if n := parquetRows(t, end); n != int64(100*(i+1)) {
				t.Errorf("checkpoint %d: the file ends with %d rows, want %d", i+1, n, 100*(i+1))
			}
		}
		if n := parquetRows(t, f.buf.Bytes()); n != int64(rows) {
			t.Errorf("lastEmpty %v: the rolled file has %d rows, want %d", lastEmpty, n, rows)
		}
	}
}

// A URL is not taken for a local directory: without WithFiles, New refuses
// it rather than make a directory "s3:".
func TestNewRefusesAURLWithoutFiles(t *testing.T) {
	_, err := New(Config{Dir: "s3://lake/out", Table: "t"})
	if err == nil || !strings.Contains(err.Error(), `Dir "s3://lake/out" is a URL`) {
		t.Fatalf("New with an s3:// Dir: %v", err)
	}
	if _, err := New(Config{Dir: "s3://lake/out", Table: "t"}, WithFiles(&memFiles{})); err != nil {
		t.Fatalf("New with an s3:// Dir and WithFiles: %v", err)
	}
}
