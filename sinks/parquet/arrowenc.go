package parquet

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	pqa "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// arrowEncoding writes with arrow-go's pqarrow, column by column straight
// from the Arrow buffers. The files keep what the sink wrote with parquet-go
// (TestArrowEncodingWritesTheSinkFiles): the Parquet schema, codec, row
// groups, created_by, statistics, page index and V2 data pages. The sink
// writes without dictionary encoding; BenchmarkParquetWrite also measures
// pqarrow's default, with it.
type arrowEncoding struct {
	schema   *arrow.Schema
	required []int // the fields that must not hold nulls
	props    *pqa.WriterProperties
	aprops   pqarrow.ArrowWriterProperties
}

func newArrowEncoding(schema *arrow.Schema, c Config, dict bool) (*arrowEncoding, error) {
	codec, err := arrowCodec(c.Compression)
	if err != nil {
		return nil, err
	}
	if err := checkSchema(schema); err != nil {
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
	return &arrowEncoder{e: e, fw: fw, w: w}, nil
}

type arrowEncoder struct {
	e     *arrowEncoding
	fw    *pqarrow.FileWriter
	w     io.Writer
	ended bool // the open row group is full; the next write starts another

	rows   int    // rows in the open row group
	footer []byte // the footer flush made, while no row came after it
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
		a.ended, a.rows = false, 0
	}
	a.rows += hi - lo
	a.footer = nil
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

// close writes the footer. After a flush with no row since, the open row
// group is empty: rather than end the file with an empty row group, close
// writes the footer flush returned (which has no page index; the row groups'
// pages are all there).
func (a *arrowEncoder) close() error {
	if a.footer != nil {
		_, err := a.w.Write(a.footer)
		return err
	}
	return a.fw.Close()
}

// flush implements flusher. pqarrow writes a buffered row group when the
// next one starts, so flush starts one (empty, for the rows to come) and
// returns the footer of the file's metadata without it.
func (a *arrowEncoder) flush() ([]byte, error) {
	if a.footer != nil {
		return a.footer, nil
	}
	if a.rows > 0 {
		if err := a.fw.NewBufferedRowGroupChecked(); err != nil {
			return nil, err
		}
		a.ended, a.rows = false, 0
	}
	md, err := a.fw.FileMetadata()
	if err != nil {
		return nil, err
	}
	keep := make([]int, 0, md.NumRowGroups())
	for i := range md.NumRowGroups() {
		if md.RowGroup(i).NumRows() > 0 {
			keep = append(keep, i)
		}
	}
	if md, err = md.Subset(keep); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	n, err := md.WriteTo(&buf, nil)
	if err != nil {
		return nil, err
	}
	buf.Write(binary.LittleEndian.AppendUint32(nil, uint32(n)))
	buf.WriteString("PAR1")
	a.footer = buf.Bytes()
	return a.footer, nil
}

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
	return 0, fmt.Errorf("parquet: unknown Compression %q (want zstd, snappy, gzip, lz4 or none)", name)
}

// checkSchema accepts the Arrow schemas the sink writes (see the package
// documentation): no duplicate names and only the supported types.
func checkSchema(schema *arrow.Schema) error {
	seen := make(map[string]bool, schema.NumFields())
	for _, f := range schema.Fields() {
		if seen[f.Name] {
			return fmt.Errorf("parquet: duplicate column %q", f.Name)
		}
		seen[f.Name] = true
		if err := checkType(f.Type); err != nil {
			return fmt.Errorf("parquet: column %q: %w", f.Name, err)
		}
	}
	return nil
}

func checkType(t arrow.DataType) error {
	switch t := t.(type) {
	case *arrow.StringType, *arrow.BinaryType, *arrow.Int32Type, *arrow.Int64Type,
		*arrow.Float32Type, *arrow.Float64Type, *arrow.BooleanType, *arrow.Date32Type:
		return nil
	case *arrow.TimestampType:
		switch t.Unit {
		case arrow.Millisecond, arrow.Microsecond, arrow.Nanosecond:
			return nil
		}
		return fmt.Errorf("unsupported timestamp unit %s (Parquet has ms, us and ns)", t.Unit)
	}
	return fmt.Errorf("unsupported Arrow type %s (supported: utf8, binary, int32, int64, float32, float64, bool, date32, timestamp[ms|us|ns])", t)
}
