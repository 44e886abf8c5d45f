package parquet

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pq "github.com/parquet-go/parquet-go"

	"github.com/shardflow/shardflow/pipeline"
)

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
