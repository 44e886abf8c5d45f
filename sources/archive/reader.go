package archive

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/shardflow/shardflow/pipeline"
)

// maxDeadPayload bounds the bytes of an overlong line that its dead letter keeps.
const maxDeadPayload = 64 << 10

// gzipBody closes the decompressor and the object under it.
type gzipBody struct {
	*gzip.Reader
	raw io.Closer
}

func newGzip(raw io.ReadCloser) (io.ReadCloser, error) {
	z, err := gzip.NewReader(bufio.NewReaderSize(raw, 64<<10))
	if err != nil {
		return nil, err
	}
	return &gzipBody{Reader: z, raw: raw}, nil
}

func (g *gzipBody) Close() error {
	err := g.Reader.Close()
	return errors.Join(err, g.raw.Close())
}

// reader reads one object's lines. off is the decompressed offset of the
// next byte br hands out.
type reader struct {
	cfg    Config
	id     string
	body   io.ReadCloser
	br     *bufio.Reader
	off    int64
	rb     *pipeline.RawBuilder
	dead   *pipeline.DeadLetterBuilder
	long   []byte // the line being assembled when it exceeds the buffer
	err    error  // sticky
	closed bool
}

func newReader(cfg Config, id string, body io.ReadCloser, off int64) *reader {
	return &reader{
		cfg:  cfg,
		id:   id,
		body: body,
		br:   bufio.NewReaderSize(body, min(cfg.MaxLineBytes+2, 1<<20)),
		off:  off,
		rb:   pipeline.NewRawBuilder(cfg.Mem),
	}
}

// Read returns up to BatchSize records, or a dead letter for an overlong
// line, in object order; at the end it returns pipeline.ErrBoundReached.
func (r *reader) Read(ctx context.Context) (*pipeline.Batch, error) {
	if r.closed {
		return nil, errors.New("archive: shard reader closed")
	}
	if r.err != nil {
		return nil, r.err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r.dead != nil && r.dead.Len() > 0 {
		return r.dead.NewBatch(r.id), nil // the overlong line after the last batch
	}
	for r.rb.Len() < r.cfg.BatchSize {
		line, n, err := r.line()
		if n > 0 {
			r.off += int64(n)
			switch l := trimEOL(line); {
			case len(l) > r.cfg.MaxLineBytes:
				if r.rb.Len() > 0 {
					// the records before it go first, its dead letter next.
					b := r.rb.NewBatch(r.id)
					r.deadLetter(l, n)
					return b, nil
				}
				r.deadLetter(l, n)
				return r.dead.NewBatch(r.id), nil
			case len(l) > 0:
				r.rb.Append(l, "", pipeline.Position{N: r.off}, 0)
			}
		}
		if err == io.EOF {
			r.err = pipeline.ErrBoundReached
			break
		}
		if err != nil {
			r.err = fmt.Errorf("archive: object %s: read at decompressed offset %d: %w; the object is damaged: restore it, or leave it out of the archive and start over with a new checkpoint directory", r.id, r.off, err)
			break
		}
	}
	if b := r.rb.NewBatch(r.id); b != nil {
		return b, nil
	}
	return nil, r.err
}

// deadLetter records an overlong line that ended n bytes before r.off.
func (r *reader) deadLetter(l []byte, n int) {
	if r.dead == nil {
		r.dead = pipeline.NewDeadLetterBuilder(r.cfg.Mem, Name)
	}
	r.dead.Append(r.id, pipeline.Position{N: r.off},
		fmt.Errorf("line of %d bytes is longer than the limit of %d bytes (MaxLineBytes)", len(l), r.cfg.MaxLineBytes),
		l[:min(len(l), maxDeadPayload)])
}

// line returns the next line with its newline (without one at the end of
// the object) and its length in bytes. A line longer than the buffer is
// assembled in r.long, keeping at most MaxLineBytes+1 bytes of it (enough
// to know it is too long) while n counts all of it.
func (r *reader) line() ([]byte, int, error) {
	b, err := r.br.ReadSlice('\n')
	if err != bufio.ErrBufferFull {
		return b, len(b), err
	}
	r.long = append(r.long[:0], b...)
	n := len(b)
	for err == bufio.ErrBufferFull {
		b, err = r.br.ReadSlice('\n')
		n += len(b)
		if room := r.cfg.MaxLineBytes + 1 - len(r.long); room > 0 {
			r.long = append(r.long, b[:min(room, len(b))]...)
		}
	}
	return r.long, n, err
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

// Close closes the object and releases the builders; it is idempotent.
func (r *reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.rb.Release()
	if r.dead != nil {
		r.dead.Release()
	}
	return r.body.Close()
}
