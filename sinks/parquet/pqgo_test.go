package parquet

import (
	"fmt"
	"io"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
)

// pqgoEncoding is the sink's former encoder, kept for BenchmarkParquetWrite
// and as the reference of TestArrowEncodingWritesTheSinkFiles: parquet-go,
// column by column, one parquet.Value per cell appended to a reused slice
// and handed to the column's writer.
type pqgoEncoding struct {
	cols []column
	wcfg *pq.WriterConfig
	vals []pq.Value
	// rowWise writes through parquet.Row values instead (kept for the
	// benchmark that compares the two).
	rowWise bool
	rows    []pq.Row
}

func newPQGoEncoding(schema *arrow.Schema, codec compress.Codec, rowGroupRows int) (*pqgoEncoding, error) {
	ps, cols, err := parquetSchema(schema)
	if err != nil {
		return nil, err
	}
	wcfg, err := pq.NewWriterConfig(
		ps,
		pq.Compression(codec),
		pq.MaxRowsPerRowGroup(int64(rowGroupRows)),
		pq.CreatedBy("shardflow", "", ""),
	)
	if err != nil {
		return nil, fmt.Errorf("parquet: writer: %w", err)
	}
	return &pqgoEncoding{cols: cols, wcfg: wcfg}, nil
}

func (e *pqgoEncoding) newEncoder(w io.Writer) (encoder, error) {
	return &pqgoEncoder{e: e, w: pq.NewWriter(w, e.wcfg)}, nil
}

type pqgoEncoder struct {
	e *pqgoEncoding
	w *pq.Writer
}

func (p *pqgoEncoder) endRowGroup() error { return p.w.Flush() }
func (p *pqgoEncoder) close() error       { return p.w.Close() }

func (p *pqgoEncoder) write(rec arrow.RecordBatch, lo, hi int) error {
	e := p.e
	if e.rowWise {
		return p.writeRowWise(rec, lo, hi)
	}
	writers := p.w.ColumnWriters()
	for i := range e.cols {
		c := &e.cols[i]
		var err error
		if e.vals, err = c.appendValues(e.vals[:0], rec.Column(i), lo, hi, false); err != nil {
			return err
		}
		if _, err := writers[c.leaf].WriteRowValues(e.vals); err != nil {
			return fmt.Errorf("column %q: %w", c.name, err)
		}
	}
	return nil
}

// writeRowWise transposes the rows into parquet.Row values and lets the
// writer split them into columns again.
func (p *pqgoEncoder) writeRowWise(rec arrow.RecordBatch, lo, hi int) error {
	e := p.e
	n := hi - lo
	e.rows = slices.Grow(e.rows[:0], n)[:n]
	for r := range e.rows {
		e.rows[r] = e.rows[r][:0]
	}
	for i := range e.cols {
		var err error
		if e.vals, err = e.cols[i].appendValues(e.vals[:0], rec.Column(i), lo, hi, true); err != nil {
			return err
		}
		for r, v := range e.vals {
			e.rows[r] = append(e.rows[r], v)
		}
	}
	_, err := p.w.WriteRows(e.rows)
	return err
}
