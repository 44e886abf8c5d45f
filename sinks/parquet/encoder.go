package parquet

import (
	"io"

	"github.com/apache/arrow-go/v18/arrow"
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

// A flusher is an encoder that can checkpoint an open file (for a
// SpanningFile): flush writes the open row group, if it has rows, and
// returns the footer that would end the file after the row groups written
// so far. The file stays open for more rows.
type flusher interface {
	flush() ([]byte, error)
}
