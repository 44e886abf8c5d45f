package parquet

import (
	"fmt"
	"io"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
)

// An encoding makes the encoders of one bound schema.
type encoding interface {
	// newEncoder starts a Parquet file on w.
	newEncoder(w io.Writer) (encoder, error)
}

// An encoder writes one Parquet file.
type encoder interface {
	// write appends rows [lo, hi) of rec to the open row group.
	write(rec arrow.RecordBatch, lo, hi int) error
	// endRowGroup ends the open row group; the next write starts another.
	endRowGroup() error
	// close writes the last row group and the footer. It leaves w open.
	close() error
}

// pqgoEncoding writes with parquet-go, column by column: one parquet.Value
// per cell, appended to a reused slice and handed to the column's writer.
// BenchmarkParquetWrite compares it with arrow-go's pqarrow, which writes
// from the Arrow buffers without the values: slower with pqarrow's default
// dictionary encoding, within about 10% without it, at 6 to 10 times the
// bytes allocated. parquet-go's GenericWriter skips the boxing but needs a Go
// struct type per schema, which a sink bound at run time does not have.
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
