package parquet

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pq "github.com/parquet-go/parquet-go"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sinks/staging"
	"github.com/shardflow/shardflow/sinks/staging/stagingtest"
)

// syncLog records the directories that SyncDir made durable.
type syncLog struct {
	staging.FS
	mu   sync.Mutex
	dirs []string
}

func (l *syncLog) SyncDir(dir string) error {
	l.mu.Lock()
	l.dirs = append(l.dirs, dir)
	l.mu.Unlock()
	return l.FS.SyncDir(dir)
}

// TestCommitAfterCrashMidRename: a process dies after renaming the first of
// two files of a checkpoint. The retried Commit skips the renamed file, but its
// directory was never fsynced: the retry must fsync it, or a power loss can
// undo that rename and a later Recover delete the file as unowned.
func TestCommitAfterCrashMidRename(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	dir := t.TempDir()
	root := filepath.Join(dir, "page_stats")
	ffs := stagingtest.NewFaultFS(nil)
	s := startTestSink(t, dir, 50, WithFS(ffs))
	if err := s.Write(ctx, pageStatsBatch(mem, 550, 100)); err != nil { // hours 22 and 23
		t.Fatal(err)
	}
	h, err := s.PreCommit(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	ffs.CrashAt(stagingtest.OpRename, 2)
	if err := s.Commit(ctx, 1, h); err == nil {
		t.Fatal("commit through a crash succeeded")
	}
	log := &syncLog{FS: staging.OS()}
	s2 := newTestSink(t, dir, 50, WithFS(log))
	if err := s2.Recover(ctx, pipeline.Recovery{Job: "test", Run: "r1", ID: 1, Handle: h}); err != nil {
		t.Fatal(err)
	}
	if n := committedRows(t, root); n != 100 {
		t.Fatalf("%d rows committed, want 100", n)
	}
	for _, hour := range []string{"hour=22", "hour=23"} {
		d := filepath.Join(root, "dt=2026-03-01", hour)
		if !slices.Contains(log.dirs, d) {
			t.Errorf("retried commit did not fsync %s (synced %v)", d, log.dirs)
		}
	}
	if err := s2.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestRecoverWhenPartitionDropped: the latest checkpoint names files of a
// partition that was dropped since (retention, a manual delete). Recovery
// cannot bring them back, and the output no longer holds what the checkpoint
// says: Recover refuses, naming the file, until it is restored or the job
// starts with Overwrite, which drops it from the commit log for good.
func TestRecoverWhenPartitionDropped(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	dir := t.TempDir()
	root := filepath.Join(dir, "page_stats")
	s := startTestSink(t, dir, 50)
	if err := s.Write(ctx, pageStatsBatch(mem, 550, 100)); err != nil {
		t.Fatal(err)
	}
	h, err := s.PreCommit(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, 1, h); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(root, "dt=2026-03-01", "hour=22")); err != nil {
		t.Fatal(err)
	}
	rec := pipeline.Recovery{Job: "test", Run: "r1", ID: 1, Handle: h}
	err = newTestSink(t, dir, 50).Recover(ctx, rec)
	want := "committed file dt=2026-03-01/hour=22/part-r1-00000001-0000.parquet of checkpoint 1 is missing"
	if !errors.Is(err, staging.ErrMissing) || !strings.Contains(err.Error(), want) {
		t.Fatalf("Recover after the partition was dropped = %v, want ErrMissing: %s", err, want)
	}
	rec.Overwrite = true
	s2 := newTestSink(t, dir, 50)
	if err := s2.Recover(ctx, rec); err != nil {
		t.Fatalf("Recover with Overwrite after the partition was dropped: %v", err)
	}
	if n := committedRows(t, root); n != 50 {
		t.Fatalf("%d rows committed, want hour 23's 50", n)
	}
	if c := s2.Counters(); c["files_forgotten"] != 1 || c["files_overwritten"] != 0 {
		t.Errorf("counters %v, want one file forgotten and none overwritten", c)
	}
	rec.Overwrite = false
	if err := newTestSink(t, dir, 50).Recover(ctx, rec); err != nil {
		t.Fatalf("Recover once the log forgot the dropped file: %v", err)
	}
	if err := s2.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestPreCommitWithoutRows(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := startTestSink(t, dir, 50)
	for id := uint64(1); id <= 2; id++ {
		h, err := s.PreCommit(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		hd, err := staging.ParseHandle(h)
		if err != nil || len(hd.Files) != 0 {
			t.Fatalf("handle %s (%v), want no files", h, err)
		}
		if err := s.Commit(ctx, id, h); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if files := committedFiles(t, filepath.Join(dir, "page_stats")); len(files) != 0 {
		t.Fatalf("files %v", files)
	}
}

// TestManyPartitionsBounded writes rows spread over 300 hours in every batch:
// the sink must keep at most MaxOpenPartitions writers (and files) open,
// finishing the least recently used, and still commit every row.
func TestManyPartitionsBounded(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	dir := t.TempDir()
	s, err := New(Config{Dir: dir, Table: "page_stats", RowGroupRows: 1000, MaxOpenPartitions: 8})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Bind(pageStatsSchema); err != nil {
		t.Fatal(err)
	}
	if err := s.Recover(ctx, pipeline.Recovery{Job: "test", Run: "r1"}); err != nil {
		t.Fatal(err)
	}
	const hours, batches = 300, 4
	total := 0
	for range batches {
		b := array.NewRecordBuilder(mem, pageStatsSchema)
		for h := range int64(hours) {
			for j := range int64(3) {
				st := base + h*hourMillis + j*60_000
				b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(st))
				b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(st + 60_000))
				b.Field(2).(*array.StringBuilder).Append("/p")
				b.Field(3).(*array.Int64Builder).Append(1)
				b.Field(4).AppendNull()
				b.Field(5).AppendNull()
				total++
			}
		}
		rec := b.NewRecordBatch()
		b.Release()
		if err := s.Write(ctx, &pipeline.Batch{Rec: rec, Shard: "s"}); err != nil {
			t.Fatal(err)
		}
		open := 0
		for _, p := range s.parts {
			if p.w != nil {
				open++
			}
		}
		if open > 8 || s.nopen != open {
			t.Fatalf("%d writers open (counted %d), want at most 8", open, s.nopen)
		}
	}
	h, err := s.PreCommit(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, 1, h); err != nil {
		t.Fatal(err)
	}
	if n := committedRows(t, filepath.Join(dir, "page_stats")); n != total {
		t.Fatalf("%d rows committed, want %d", n, total)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestFileSchemaAsReadersSeeIt checks the Parquet schema DuckDB reads: the
// Arrow field order, nullability as optional/required, and timestamps in
// ms, us and ns with and without a time zone. (Seconds are refused at Bind,
// see TestBind.)
func TestFileSchemaAsReadersSeeIt(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	dir := t.TempDir()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "z_first", Type: arrow.PrimitiveTypes.Int64},
		{Name: "ts_ms", Type: &arrow.TimestampType{Unit: arrow.Millisecond}, Nullable: true},
		{Name: "a_second", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "ts_us", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
		{Name: "ts_ns", Type: &arrow.TimestampType{Unit: arrow.Nanosecond}},
	}, nil)
	s, err := New(Config{Dir: dir, Table: "t", PartitionBy: "ts_us"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Bind(schema); err != nil {
		t.Fatalf("Bind: %v", err)
	}
	if err := s.Recover(ctx, pipeline.Recovery{Job: "test", Run: "r1"}); err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(mem, schema)
	secs := base / 1000
	b.Field(0).(*array.Int64Builder).Append(7)
	b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(base))
	b.Field(2).AppendNull()
	b.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(secs * 1_000_000))
	b.Field(4).(*array.TimestampBuilder).Append(arrow.Timestamp(secs * 1_000_000_000))
	rec := b.NewRecordBatch()
	b.Release()
	if err := s.Write(ctx, &pipeline.Batch{Rec: rec}); err != nil {
		t.Fatal(err)
	}
	h, err := s.PreCommit(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, 1, h); err != nil {
		t.Fatal(err)
	}
	files := committedFiles(t, filepath.Join(dir, "t"))
	if len(files) != 1 {
		t.Fatalf("files %v", files)
	}
	pf := openParquet(t, files[0])
	fields := pf.Schema().Fields()
	want := []struct {
		name     string
		optional bool
		logical  string
	}{
		{"z_first", false, "INT(64,true)"},
		{"ts_ms", true, "TIMESTAMP(isAdjustedToUTC=false,unit=MILLIS)"},
		{"a_second", true, "STRING"},
		{"ts_us", false, "TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)"},
		{"ts_ns", false, "TIMESTAMP(isAdjustedToUTC=false,unit=NANOS)"},
	}
	if len(fields) != len(want) {
		t.Fatalf("%d fields, want %d", len(fields), len(want))
	}
	for i, w := range want {
		f := fields[i]
		lt := ""
		if l := f.Type().LogicalType(); l != nil {
			lt = l.String()
		}
		if f.Name() != w.name || f.Optional() != w.optional || lt != w.logical {
			t.Errorf("field %d = %s optional=%v %s, want %s optional=%v %s", i, f.Name(), f.Optional(), lt, w.name, w.optional, w.logical)
		}
	}
	vals := readColumn(t, pf, 1)
	if len(vals) != 1 || vals[0] != base {
		t.Errorf("ts_ms stored as %v, want [%d]", vals, base)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// readColumn returns the int64 values of column col of pf's first row group.
func readColumn(t *testing.T, pf *pq.File, col int) []int64 {
	t.Helper()
	rr := pf.RowGroups()[0].Rows()
	defer rr.Close()
	buf := make([]pq.Row, 16)
	var out []int64
	for {
		n, err := rr.ReadRows(buf)
		for _, r := range buf[:n] {
			for _, v := range r {
				if v.Column() == col && !v.IsNull() {
					out = append(out, v.Int64())
				}
			}
		}
		if err != nil {
			return out
		}
	}
}

func TestPartitionsOfOtherUnits(t *testing.T) {
	for _, unit := range []arrow.TimeUnit{arrow.Microsecond, arrow.Nanosecond} {
		s := &Sink{partUnit: unit}
		mul := int64(1000)
		if unit == arrow.Nanosecond {
			mul = 1_000_000
		}
		for _, ms := range []int64{base, base - 1, -1, 0, -hourMillis} {
			if got, want := s.hour(arrow.Timestamp(ms*mul)), floorDiv(ms, hourMillis); got != want {
				t.Errorf("%s: hour(%d ms) = %d, want %d", unit, ms, got, want)
			}
		}
	}
}
