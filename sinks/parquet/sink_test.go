package parquet

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"go.uber.org/goleak"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sinks/staging"
	"github.com/shardflow/shardflow/sinks/staging/stagingtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		err  string
	}{
		{"ok", Config{Dir: "/d", Table: "t"}, ""},
		{"all knobs", Config{Dir: "/d", Table: "t", PartitionBy: "ts", RowGroupRows: 10, Compression: "snappy"}, ""},
		{"no dir", Config{Table: "t"}, "Dir is empty"},
		{"no table", Config{Dir: "/d"}, "Table"},
		{"table with slash", Config{Dir: "/d", Table: "a/b"}, "plain directory name"},
		{"dot table", Config{Dir: "/d", Table: ".."}, "plain directory name"},
		{"negative rows", Config{Dir: "/d", Table: "t", RowGroupRows: -1}, "negative"},
		{"bad codec", Config{Dir: "/d", Table: "t", Compression: "lzo"}, "unknown Compression"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("Validate() = %v, want error containing %q", err, tc.err)
			}
			if _, nerr := New(tc.cfg); (nerr == nil) != (err == nil) {
				t.Fatalf("New() = %v, Validate() = %v", nerr, err)
			}
		})
	}
}

func TestBind(t *testing.T) {
	ts := func(u arrow.TimeUnit) arrow.DataType { return &arrow.TimestampType{Unit: u, TimeZone: "UTC"} }
	for _, tc := range []struct {
		name   string
		fields []arrow.Field
		err    string
	}{
		{"page stats", pageStatsSchema.Fields(), ""},
		{"every supported type", []arrow.Field{
			{Name: "window_start", Type: ts(arrow.Microsecond)},
			{Name: "s", Type: arrow.BinaryTypes.String}, {Name: "b", Type: arrow.BinaryTypes.Binary},
			{Name: "i32", Type: arrow.PrimitiveTypes.Int32}, {Name: "i64", Type: arrow.PrimitiveTypes.Int64},
			{Name: "f32", Type: arrow.PrimitiveTypes.Float32}, {Name: "f64", Type: arrow.PrimitiveTypes.Float64},
			{Name: "ok", Type: arrow.FixedWidthTypes.Boolean}, {Name: "d", Type: arrow.FixedWidthTypes.Date32},
			{Name: "local", Type: &arrow.TimestampType{Unit: arrow.Nanosecond}},
		}, ""},
		{"unsupported type", []arrow.Field{
			{Name: "window_start", Type: tsUTC}, {Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String)},
		}, `column "tags": unsupported Arrow type list`},
		{"uint64", []arrow.Field{
			{Name: "window_start", Type: tsUTC}, {Name: "n", Type: arrow.PrimitiveTypes.Uint64},
		}, `column "n": unsupported Arrow type uint64`},
		{"timestamp in seconds", []arrow.Field{{Name: "window_start", Type: ts(arrow.Second)}}, "unsupported timestamp unit"},
		{"no partition column", []arrow.Field{{Name: "ts", Type: tsUTC}}, `partition column "window_start": found 0 times`},
		{"partition column not a timestamp", []arrow.Field{{Name: "window_start", Type: arrow.PrimitiveTypes.Int64}}, "want a timestamp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(Config{Dir: t.TempDir(), Table: "t"})
			if err != nil {
				t.Fatal(err)
			}
			err = s.Bind(arrow.NewSchema(tc.fields, nil))
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("Bind() = %v, want error containing %q", err, tc.err)
			}
		})
	}
}

func newTestSink(t testing.TB, dir string, rowGroupRows int, opts ...Option) *Sink {
	t.Helper()
	s, err := New(Config{Dir: dir, Table: "page_stats", RowGroupRows: rowGroupRows}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Bind(pageStatsSchema); err != nil {
		t.Fatal(err)
	}
	return s
}

// startTestSink is newTestSink recovered as the first run of job "test".
func startTestSink(t testing.TB, dir string, rowGroupRows int, opts ...Option) *Sink {
	t.Helper()
	s := newTestSink(t, dir, rowGroupRows, opts...)
	if err := s.Recover(context.Background(), pipeline.Recovery{Job: "test", Run: "r1"}); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCommitterSuite(t *testing.T) {
	stagingtest.RunCommitterSuite(t, func(t *testing.T) stagingtest.Harness {
		dir := t.TempDir()
		root := filepath.Join(dir, "page_stats")
		return stagingtest.Harness{
			New: func(t *testing.T, fsys staging.FS) stagingtest.Subject {
				return newTestSink(t, dir, 7, WithFS(fsys))
			},
			// Rows 590.. cross from hour 22 to hour 23, so a checkpoint may
			// stage two files.
			Batch:     func(mem memory.Allocator, first, n int) *pipeline.Batch { return pageStatsBatch(mem, 590+first, n) },
			Committed: func(t *testing.T) int { return committedRows(t, root) },
			Root:      root,
		}
	})
}

func TestRowGroupPerFlush(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	dir := t.TempDir()
	s := startTestSink(t, dir, 100)
	for first := 0; first < 250; first += 30 {
		if err := s.Write(ctx, pageStatsBatch(mem, first, min(30, 250-first))); err != nil {
			t.Fatal(err)
		}
	}
	h, err := s.PreCommit(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, 1, h); err != nil {
		t.Fatal(err)
	}
	files := committedFiles(t, filepath.Join(dir, "page_stats"))
	want := filepath.Join(dir, "page_stats", "dt=2026-03-01", "hour=22", "part-r1-00000001-0000.parquet")
	if len(files) != 1 || files[0] != want {
		t.Fatalf("files = %v, want [%s]", files, want)
	}
	var sizes []int64
	for _, rg := range openParquet(t, files[0]).RowGroups() {
		sizes = append(sizes, rg.NumRows())
	}
	if len(sizes) != 3 || sizes[0] != 100 || sizes[1] != 100 || sizes[2] != 50 {
		t.Fatalf("row groups = %v, want [100 100 50]", sizes)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestWriteBeforeBind(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	s, err := New(Config{Dir: t.TempDir(), Table: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), pageStatsBatch(mem, 0, 3)); err != ErrNotBound {
		t.Fatalf("Write = %v, want ErrNotBound", err)
	}
}
