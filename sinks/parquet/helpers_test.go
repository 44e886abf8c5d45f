package parquet

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pq "github.com/parquet-go/parquet-go"

	"github.com/shardflow/shardflow/pipeline"
)

var tsUTC = &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}

// pageStatsSchema is the shape of a windowed aggregation's output.
var pageStatsSchema = arrow.NewSchema([]arrow.Field{
	{Name: "window_start", Type: tsUTC},
	{Name: "window_end", Type: tsUTC},
	{Name: "page", Type: arrow.BinaryTypes.String},
	{Name: "events", Type: arrow.PrimitiveTypes.Int64},
	{Name: "revenue", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "bot", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
}, nil)

// base is 2026-03-01T22:00:00Z.
const base = int64(1772402400000)

// pageStatsRow is row i of the test table: one row per (minute, page), ten
// pages per minute, so rows 0..599 cover hour 22 and 600..1199 hour 23.
func pageStatsRow(i int) (start int64, page string, events int64, revenue float64, revenueValid bool, bot bool) {
	minute := int64(i / 10)
	start = base + minute*60_000
	page = "/p" + string(rune('a'+i%10))
	events = int64(i%7 + 1)
	revenue = float64(i%5) * 1.5
	return start, page, events, revenue, i%3 != 0, i%4 == 0
}

// pageStatsBatch builds rows [first, first+n) of the test table.
func pageStatsBatch(mem memory.Allocator, first, n int) *pipeline.Batch {
	b := array.NewRecordBuilder(mem, pageStatsSchema)
	defer b.Release()
	for i := first; i < first+n; i++ {
		start, page, events, revenue, valid, bot := pageStatsRow(i)
		b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(start))
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(start + 60_000))
		b.Field(2).(*array.StringBuilder).Append(page)
		b.Field(3).(*array.Int64Builder).Append(events)
		if valid {
			b.Field(4).(*array.Float64Builder).Append(revenue)
		} else {
			b.Field(4).AppendNull()
		}
		b.Field(5).(*array.BooleanBuilder).Append(bot)
	}
	return &pipeline.Batch{Rec: b.NewRecordBatch(), Shard: "s", MinTime: base, MaxTime: base}
}

// committedFiles lists the final Parquet files under root.
func committedFiles(t testing.TB, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".parquet") && !strings.HasPrefix(d.Name(), ".") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return files
}

func openParquet(t testing.TB, path string) *pq.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	pf, err := pq.OpenFile(f, st.Size())
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	return pf
}

// committedRows counts the rows of the final Parquet files under root.
func committedRows(t testing.TB, root string) int {
	t.Helper()
	n := 0
	for _, p := range committedFiles(t, root) {
		n += int(openParquet(t, p).NumRows())
	}
	return n
}
