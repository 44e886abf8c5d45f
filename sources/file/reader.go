package file

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/shardflow/shardflow/pipeline"
)

// reader reads one file. buf[r:w] holds the bytes read but not yet consumed;
// base is the file offset of buf[0].
type reader struct {
	cfg    Config
	id     string
	f      *os.File
	base   int64
	buf    []byte
	r, w   int
	eof    bool // the file has no more bytes
	long   []byte
	rb     *pipeline.RawBuilder
	err    error // sticky: pipeline.ErrShardEnd or a read error
	closed bool
}

// Read returns the next lines as records, up to BatchSize records or
// MaxBatchBytes bytes; pipeline.ErrShardEnd at the end of the file.
func (r *reader) Read(ctx context.Context) (*pipeline.Batch, error) {
	switch {
	case r.closed:
		return nil, ErrClosed
	case r.err != nil:
		return nil, r.err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// scanned bounds the work of one Read also when it meets only empty lines.
	scanned, size := 0, 0
	for r.rb.Len() < r.cfg.BatchSize && size < r.cfg.MaxBatchBytes && scanned < r.cfg.MaxBatchBytes {
		line, end, ok, err := r.nextLine()
		if err != nil {
			r.err = fmt.Errorf("file: shard %s: %w", r.id, err)
			return nil, r.err
		}
		if !ok {
			r.err = pipeline.ErrShardEnd
			break
		}
		scanned += len(line) + 1
		if len(line) == 0 {
			continue
		}
		r.rb.Append(line, "", pipeline.Position{N: end}, 0)
		size += len(line)
	}
	if b := r.rb.NewBatch(r.id); b != nil {
		return b, nil
	}
	return nil, r.err
}

// nextLine returns the next line without its newline and trailing carriage
// return, and the offset just past it; ok is false at the end of the file. The
// line is valid until the next call.
func (r *reader) nextLine() (line []byte, end int64, ok bool, err error) {
	for {
		if i := bytes.IndexByte(r.buf[r.r:r.w], '\n'); i >= 0 {
			line = r.buf[r.r : r.r+i]
			r.r += i + 1
			return trimCR(line), r.base + int64(r.r), true, nil
		}
		if r.eof {
			if r.r == r.w {
				return nil, r.base + int64(r.w), false, nil
			}
			line = r.buf[r.r:r.w]
			r.r = r.w
			return trimCR(line), r.base + int64(r.w), true, nil
		}
		if r.w-r.r > r.cfg.MaxLineBytes {
			return r.longLine()
		}
		if err := r.fill(); err != nil {
			return nil, 0, false, err
		}
	}
}

// fill moves the unconsumed bytes to the front of buf, grows buf if it is
// full (up to one byte more than the longest line) and reads more.
func (r *reader) fill() error {
	if r.r > 0 {
		n := copy(r.buf, r.buf[r.r:r.w])
		r.base += int64(r.r)
		r.r, r.w = 0, n
	}
	if r.w == len(r.buf) {
		nb := make([]byte, min(2*len(r.buf), r.cfg.MaxLineBytes+1))
		copy(nb, r.buf[:r.w])
		r.buf = nb
	}
	n, err := r.f.Read(r.buf[r.w:])
	r.w += n
	switch {
	case err == io.EOF:
		r.eof = true
	case err != nil:
		return err
	}
	return nil
}

// longLine handles a line longer than MaxLineBytes that starts at buf[r.r]:
// it keeps the line's first MaxLineBytes bytes and skips the rest.
func (r *reader) longLine() (line []byte, end int64, ok bool, err error) {
	r.long = append(r.long[:0], r.buf[r.r:r.r+r.cfg.MaxLineBytes]...)
	r.r = r.w
	for {
		if i := bytes.IndexByte(r.buf[r.r:r.w], '\n'); i >= 0 {
			r.r += i + 1
			return r.long, r.base + int64(r.r), true, nil
		}
		r.r = r.w
		if r.eof {
			return r.long, r.base + int64(r.w), true, nil
		}
		if err := r.fill(); err != nil {
			return nil, 0, false, err
		}
	}
}

func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}

// Close closes the file and releases the reader's buffers; it is idempotent.
func (r *reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.rb.Release()
	r.buf, r.long = nil, nil
	return r.f.Close()
}
