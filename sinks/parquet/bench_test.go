package parquet

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pq "github.com/parquet-go/parquet-go"

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

// deadLetterSchema is pipeline.DeadLetterSchema with the time of the
// rejection in front, which the sink needs to partition by.
var deadLetterSchema = arrow.NewSchema(append([]arrow.Field{{Name: "rejected_at", Type: tsUTC}},
	pipeline.DeadLetterSchema.Fields()...), nil)

// deadLetterBatch is 4096 rejected clickstream records of one minute: the
// source, shard, position and error as the runtime writes them and a JSON
// payload of about 200 bytes.
func deadLetterBatch(mem memory.Allocator, minute int) *pipeline.Batch {
	b := array.NewRecordBuilder(mem, deadLetterSchema)
	defer b.Release()
	start := base + int64(minute)*60_000
	errs := []string{
		"json: unexpected end of input at offset 131",
		`json: field "ts": not a timestamp`,
		`schema: field "page" is missing`,
		"json: invalid character '}' after object key",
	}
	for i := range 4096 {
		seq := int64(minute)*4096 + int64(i)
		b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(start + int64(i)*14))
		b.Field(1).(*array.StringBuilder).Append("kinesis")
		b.Field(2).(*array.StringBuilder).Append(fmt.Sprintf("shardId-%012d", i%4))
		b.Field(3).(*array.StringBuilder).Append(fmt.Sprintf("4963%052d/%d", seq*1_000_003, i%3))
		b.Field(4).(*array.StringBuilder).Append(errs[i%len(errs)])
		b.Field(5).(*array.BinaryBuilder).Append(fmt.Appendf(nil,
			`{"ts":"2026-03-01T22:%02d:%02d.%03dZ","user":"u-%08d","session":"s-%012x","page":"/products/item-%06d","ref":"https://example.com/search?q=item-%d","ua":"Mozilla/5.0 (X11; Linux x86_64)"`,
			minute%60, i%60, i%1000, (i*7919)%1_000_000, seq*2654435761, (i*31)%100_000, i))
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
// hourly partitions) and pre-commits and commits each, through each Parquet
// writer, on the rows of a windowed aggregation (page_stats) and on dead
// letters. MB/s is the Arrow input; out_MB/s the Parquet bytes written.
//
// Encoders: pqarrow writes straight from the Arrow buffers, with its default
// dictionary encoding or without it (pqarrow-nodict, the sink's encoder);
// pqgo is the sink's former encoder, parquet-go column by column with one
// boxed parquet.Value per cell, pqgo-rows the same through parquet.Row
// values, and
// pqgo-generic parquet-go's GenericWriter on a Go struct per row, which
// writes column buffers without boxing but needs a struct type known at
// compile time (page_stats only).
func BenchmarkParquetWrite(b *testing.B) {
	type table struct {
		name      string
		schema    *arrow.Schema
		partition string
		batch     func(memory.Allocator, int) *pipeline.Batch
	}
	tables := []table{
		{"page_stats", pageStatsSchema, "window_start", benchBatch},
		{"dead_letter", deadLetterSchema, "rejected_at", deadLetterBatch},
	}
	modes := []struct {
		encoder  string
		rowGroup int
	}{
		{"pqarrow", DefaultRowGroupRows},
		{"pqarrow-nodict", DefaultRowGroupRows},
		{"pqgo", DefaultRowGroupRows},
		{"pqgo-rows", DefaultRowGroupRows},
		{"pqgo-generic", DefaultRowGroupRows},
		{"pqarrow-nodict", 64 << 10},
		{"pqarrow-nodict", 1 << 20},
	}
	for _, tb := range tables {
		for _, mode := range modes {
			if mode.encoder == "pqgo-generic" && tb.name != "page_stats" {
				continue
			}
			name := fmt.Sprintf("table=%s/enc=%s", tb.name, mode.encoder)
			if mode.rowGroup != DefaultRowGroupRows {
				name += fmt.Sprintf("/rowgroup=%dk", mode.rowGroup>>10)
			}
			b.Run(name, func(b *testing.B) {
				mem := memory.NewGoAllocator()
				batches := make([]*pipeline.Batch, 64)
				var inBytes int64
				for i := range batches {
					batches[i] = tb.batch(mem, 30+i) // minutes 30..93: 22:30 to 23:33
					inBytes += recordBytes(batches[i].Rec)
				}
				defer func() {
					for _, bt := range batches {
						bt.Release()
					}
				}()
				ctx := context.Background()
				dir := b.TempDir()
				s, err := New(Config{Dir: dir, Table: tb.name, PartitionBy: tb.partition, RowGroupRows: mode.rowGroup})
				if err != nil {
					b.Fatal(err)
				}
				if err := s.Bind(tb.schema); err != nil {
					b.Fatal(err)
				}
				switch mode.encoder {
				case "pqgo", "pqgo-rows":
					pg, err := newPQGoEncoding(tb.schema, &pq.Zstd, mode.rowGroup)
					if err != nil {
						b.Fatal(err)
					}
					pg.rowWise = mode.encoder == "pqgo-rows"
					s.enc = pg
				case "pqgo-generic":
					s.enc = &genericEncoding{rows: mode.rowGroup}
				case "pqarrow":
					if s.enc, err = newArrowEncoding(tb.schema, s.cfg, true); err != nil {
						b.Fatal(err)
					}
				}
				if err := s.Recover(ctx, pipeline.Recovery{Job: "test", Run: "r1"}); err != nil {
					b.Fatal(err)
				}
				var id uint64
				var outBytes int64
				b.SetBytes(inBytes)
				b.ReportAllocs()
				cpu0 := cpuSeconds(b)
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
					for _, f := range committedFiles(b, filepath.Join(dir, tb.name)) {
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
				// The process's CPU time, the GC's on the other core included:
				// steadier than wall time on a shared machine.
				b.ReportMetric(float64(b.N)*64*4096/(cpuSeconds(b)-cpu0), "rows/cpu-s")
				b.ReportMetric(float64(outBytes)/1e6/sec, "out_MB/s")
				if err := s.Close(ctx); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}

// pageStatsRec is a page_stats row for parquet-go's GenericWriter; its
// schema is the sink's for pageStatsSchema.
type pageStatsRec struct {
	WindowStart int64    `parquet:"window_start,timestamp(millisecond:utc)"`
	WindowEnd   int64    `parquet:"window_end,timestamp(millisecond:utc)"`
	Page        string   `parquet:"page"`
	Events      int64    `parquet:"events"`
	Revenue     *float64 `parquet:"revenue,optional"`
	Bot         *bool    `parquet:"bot,optional"`
}

// genericEncoding writes page_stats batches through a GenericWriter,
// transposing the Arrow columns into structs first.
type genericEncoding struct {
	rows    int
	recs    []pageStatsRec
	revenue []float64
	bot     []bool
}

func (e *genericEncoding) newEncoder(w io.Writer) (encoder, error) {
	return &genericEncoder{e: e, w: pq.NewGenericWriter[pageStatsRec](w,
		pq.Compression(&pq.Zstd), pq.MaxRowsPerRowGroup(int64(e.rows)), pq.CreatedBy("shardflow", "", ""))}, nil
}

type genericEncoder struct {
	e *genericEncoding
	w *pq.GenericWriter[pageStatsRec]
}

func (g *genericEncoder) write(rec arrow.RecordBatch, lo, hi int) error {
	e := g.e
	n := hi - lo
	e.recs = append(e.recs[:0], make([]pageStatsRec, n)...)
	e.revenue = append(e.revenue[:0], make([]float64, n)...)
	e.bot = append(e.bot[:0], make([]bool, n)...)
	ws := rec.Column(0).(*array.Timestamp).TimestampValues()
	we := rec.Column(1).(*array.Timestamp).TimestampValues()
	page := rec.Column(2).(*array.String)
	events := rec.Column(3).(*array.Int64).Int64Values()
	revenue := rec.Column(4).(*array.Float64)
	bot := rec.Column(5).(*array.Boolean)
	for r := range n {
		i := lo + r
		x := &e.recs[r]
		x.WindowStart, x.WindowEnd, x.Page, x.Events = int64(ws[i]), int64(we[i]), page.Value(i), events[i]
		if revenue.IsValid(i) {
			e.revenue[r] = revenue.Value(i)
			x.Revenue = &e.revenue[r]
		}
		if bot.IsValid(i) {
			e.bot[r] = bot.Value(i)
			x.Bot = &e.bot[r]
		}
	}
	_, err := g.w.Write(e.recs)
	return err
}

func (g *genericEncoder) endRowGroup() error { return g.w.Flush() }
func (g *genericEncoder) close() error       { return g.w.Close() }

// cpuSeconds is the user and system CPU time of the process so far.
func cpuSeconds(b *testing.B) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
