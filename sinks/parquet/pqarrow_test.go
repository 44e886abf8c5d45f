package parquet

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pqa "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	pq "github.com/parquet-go/parquet-go"

	"github.com/shardflow/shardflow/pipeline"
)

// arrowEncoding writes with arrow-go's pqarrow, column by column straight
// from the Arrow buffers, for BenchmarkParquetWrite: the same Parquet schema,
// codec, row groups, created_by, statistics, page index and V2 data pages as
// the sink's parquet-go encoding (TestArrowEncodingWritesTheSinkFiles);
// dictionary encoding is pqarrow's default (on) or off.
type arrowEncoding struct {
	schema   *arrow.Schema
	required []int // the fields that must not hold nulls
	props    *pqa.WriterProperties
	aprops   pqarrow.ArrowWriterProperties
}

func newArrowEncoding(schema *arrow.Schema, c Config, dict bool) (*arrowEncoding, error) {
	c = c.withDefaults()
	codec, err := arrowCodec(c.Compression)
	if err != nil {
		return nil, err
	}
	e := &arrowEncoding{schema: schema}
	for i, f := range schema.Fields() {
		if !f.Nullable {
			e.required = append(e.required, i)
		}
	}
	e.props = pqa.NewWriterProperties(
		pqa.WithCompression(codec),
		pqa.WithMaxRowGroupLength(int64(c.RowGroupRows)),
		pqa.WithDictionaryDefault(dict),
		pqa.WithDataPageVersion(pqa.DataPageV2),
		pqa.WithPageIndexEnabled(true),
		pqa.WithCreatedBy("shardflow version (build )"),
	)
	e.aprops = pqarrow.NewArrowWriterProperties()
	// Fail at Bind, not at the first file.
	if _, err := pqarrow.ToParquet(schema, e.props, e.aprops); err != nil {
		return nil, fmt.Errorf("parquet: schema: %w", err)
	}
	return e, nil
}

func (e *arrowEncoding) newEncoder(w io.Writer) (encoder, error) {
	fw, err := pqarrow.NewFileWriter(e.schema, w, e.props, e.aprops)
	if err != nil {
		return nil, err
	}
	return &arrowEncoder{e: e, fw: fw}, nil
}

type arrowEncoder struct {
	e     *arrowEncoding
	fw    *pqarrow.FileWriter
	ended bool // the open row group is full; the next write starts another
}

func (a *arrowEncoder) write(rec arrow.RecordBatch, lo, hi int) error {
	for _, i := range a.e.required {
		if rec.Column(i).NullN() > 0 {
			return fmt.Errorf("parquet: column %q: null in a non-nullable field", a.e.schema.Field(i).Name)
		}
	}
	if a.ended {
		if err := a.fw.NewBufferedRowGroupChecked(); err != nil {
			return err
		}
		a.ended = false
	}
	if lo != 0 || hi != int(rec.NumRows()) {
		rec = rec.NewSlice(int64(lo), int64(hi))
		defer rec.Release()
	}
	return a.fw.WriteBuffered(rec)
}

// endRowGroup defers the cut to the next write, so that a file never ends
// with an empty row group.
func (a *arrowEncoder) endRowGroup() error {
	a.ended = true
	return nil
}

func (a *arrowEncoder) close() error { return a.fw.Close() }

func arrowCodec(name string) (compress.Compression, error) {
	switch strings.ToLower(name) {
	case "", "zstd":
		return compress.Codecs.Zstd, nil
	case "snappy":
		return compress.Codecs.Snappy, nil
	case "gzip":
		return compress.Codecs.Gzip, nil
	case "lz4", "lz4_raw":
		return compress.Codecs.Lz4Raw, nil
	case "none", "uncompressed":
		return compress.Codecs.Uncompressed, nil
	}
	return 0, fmt.Errorf("parquet: unknown Compression %q", name)
}

// TestArrowEncodingWritesTheSinkFiles checks that the benchmark compares like
// with like: pqarrow's files have the sink's Parquet schema (column order,
// repetition, logical types), codec, row groups and created_by, and the same
// rows, as parquet-go reads them.
func TestArrowEncodingWritesTheSinkFiles(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	for _, tc := range []struct {
		name   string
		schema *arrow.Schema
		batch  func(memory.Allocator, int) *pipeline.Batch
	}{
		{"page_stats", pageStatsSchema, benchBatch},
		{"dead_letter", deadLetterSchema, deadLetterBatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			batches := []*pipeline.Batch{tc.batch(mem, 0), tc.batch(mem, 1), tc.batch(mem, 2)}
			defer func() {
				for _, b := range batches {
					b.Release()
				}
			}()
			cfg := Config{Dir: "/unused", Table: "t", RowGroupRows: 5000}
			ref, err := newPQGoEncoding(tc.schema, &pq.Zstd, cfg.RowGroupRows)
			if err != nil {
				t.Fatal(err)
			}
			want := encodeAll(t, ref, batches, cfg.RowGroupRows)
			for _, dict := range []bool{true, false} {
				enc, err := newArrowEncoding(tc.schema, cfg, dict)
				if err != nil {
					t.Fatal(err)
				}
				got := encodeAll(t, enc, batches, cfg.RowGroupRows)
				if g, w := got.Schema().String(), want.Schema().String(); g != w {
					t.Errorf("dict=%v: schema\n%s\nwant\n%s", dict, g, w)
				}
				if g, w := got.Metadata().CreatedBy, want.Metadata().CreatedBy; g != w {
					t.Errorf("dict=%v: created_by %q, want %q", dict, g, w)
				}
				if g, w := rowGroupShape(got), rowGroupShape(want); !slices.Equal(g, w) {
					t.Errorf("dict=%v: row groups (rows, codec per column) %v, want %v", dict, g, w)
				}
				g, w := readRows(t, got), readRows(t, want)
				if len(g) != len(w) || len(g) != 3*4096 {
					t.Fatalf("dict=%v: %d rows, want %d and %d", dict, len(g), len(w), 3*4096)
				}
				for i := range w {
					if !g[i].Equal(w[i]) {
						t.Fatalf("dict=%v: row %d = %v, want %v", dict, i, g[i], w[i])
					}
				}
			}
		})
	}
}

// encodeAll writes batches as the sink does, cutting a row group every
// rowGroupRows rows, and opens the file.
func encodeAll(t *testing.T, enc encoding, batches []*pipeline.Batch, rowGroupRows int) *pq.File {
	t.Helper()
	var buf bytes.Buffer
	e, err := enc.newEncoder(&buf)
	if err != nil {
		t.Fatal(err)
	}
	buffered := 0
	for _, b := range batches {
		for lo, n := 0, int(b.Rec.NumRows()); lo < n; {
			m := min(n-lo, rowGroupRows-buffered)
			if err := e.write(b.Rec, lo, lo+m); err != nil {
				t.Fatal(err)
			}
			lo += m
			if buffered += m; buffered == rowGroupRows {
				if err := e.endRowGroup(); err != nil {
					t.Fatal(err)
				}
				buffered = 0
			}
		}
	}
	if err := e.close(); err != nil {
		t.Fatal(err)
	}
	f, err := pq.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func rowGroupShape(f *pq.File) []string {
	var shape []string
	for _, rg := range f.Metadata().RowGroups {
		s := fmt.Sprint(rg.NumRows)
		for _, c := range rg.Columns {
			s += " " + c.MetaData.Codec.String()
		}
		shape = append(shape, s)
	}
	return shape
}

func readRows(t *testing.T, f *pq.File) []pq.Row {
	t.Helper()
	var rows []pq.Row
	for _, rg := range f.RowGroups() {
		r := rg.Rows()
		buf := make([]pq.Row, 512)
		for {
			n, err := r.ReadRows(buf)
			for _, row := range buf[:n] {
				rows = append(rows, row.Clone())
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		r.Close()
	}
	return rows
}
