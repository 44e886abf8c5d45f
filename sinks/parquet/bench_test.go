package parquet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/pipeline"
)

// benchBatch is 4096 window results of one minute: 4096 pages, realistic
// value spreads.
func benchBatch(mem memory.Allocator, minute int) *pipeline.Batch {
	b := array.NewRecordBuilder(mem, pageStatsSchema)
	defer b.Release()
	start := base + int64(minute)*60_000
	for i := range 4096 {
		b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(start))
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(start + 60_000))
		b.Field(2).(*array.StringBuilder).Append(fmt.Sprintf("/products/item-%06d", (i*7919)%100_000))
		b.Field(3).(*array.Int64Builder).Append(int64(i*31%977 + 1))
		if i%3 == 0 {
			b.Field(4).AppendNull()
		} else {
			b.Field(4).(*array.Float64Builder).Append(float64(i%1000) * 0.37)
		}
		b.Field(5).(*array.BooleanBuilder).Append(i%11 == 0)
	}
	return &pipeline.Batch{Rec: b.NewRecordBatch(), Shard: "s"}
}

func recordBytes(rec arrow.RecordBatch) int64 {
	var n int64
	for _, c := range rec.Columns() {
		for _, buf := range c.Data().Buffers() {
			if buf != nil {
				n += int64(buf.Len())
			}
		}
	}
	return n
}

// BenchmarkParquetWrite writes checkpoints of 64 batches (262144 rows, two
// hourly partitions) and pre-commits and commits each. MB/s is the Arrow
// input; out_MB/s the Parquet bytes written.
func BenchmarkParquetWrite(b *testing.B) {
	for _, mode := range []struct {
		name     string
		rowWise  bool
		rowGroup int
	}{
		{"columns", false, DefaultRowGroupRows},
		{"rows", true, DefaultRowGroupRows},
		{"columns/rowgroup=64k", false, 64 << 10},
		{"columns/rowgroup=1M", false, 1 << 20},
	} {
		b.Run(mode.name, func(b *testing.B) {
			mem := memory.NewGoAllocator()
			batches := make([]*pipeline.Batch, 64)
			var inBytes int64
			for i := range batches {
				batches[i] = benchBatch(mem, 30+i) // minutes 30..93: 22:30 to 23:33
				inBytes += recordBytes(batches[i].Rec)
			}
			defer func() {
				for _, bt := range batches {
					bt.Release()
				}
			}()
			ctx := context.Background()
			dir := b.TempDir()
			s := startTestSink(b, dir, mode.rowGroup)
			s.rowWise = mode.rowWise
			var id uint64
			var outBytes int64
			b.SetBytes(inBytes)
			b.ReportAllocs()
			for b.Loop() {
				for _, bt := range batches {
					bt.Rec.Retain()
					if err := s.Write(ctx, bt.WithRecord(bt.Rec)); err != nil {
						b.Fatal(err)
					}
				}
				id++
				h, err := s.PreCommit(ctx, id)
				if err != nil {
					b.Fatal(err)
				}
				if err := s.Commit(ctx, id, h); err != nil {
					b.Fatal(err)
				}
				for _, f := range committedFiles(b, filepath.Join(dir, "page_stats")) {
					st, err := os.Stat(f)
					if err != nil {
						b.Fatal(err)
					}
					outBytes += st.Size()
					os.Remove(f)
				}
			}
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(b.N)*64*4096/sec, "rows/s")
			b.ReportMetric(float64(outBytes)/1e6/sec, "out_MB/s")
			if err := s.Close(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
}
