package file

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/shardflow/shardflow/pipeline"
)

// maxDeadPayload bounds the bytes of an overlong line that its dead letter
// keeps: enough to recognise the line and find it in the file.
const maxDeadPayload = 64 << 10

// reader reads one file. buf[r:w] holds the bytes read but not yet consumed;
// base is the file offset of buf[0].
type reader struct {
	cfg     Config
	id      string
	fid     fileID // the file's identity, to tell when a followed path is replaced
	f       *os.File
	base    int64
	buf     []byte
	r, w    int
	eof     bool     // the file had no more bytes at the last read
	long    longLine // the overlong line being skipped
	rb      *pipeline.RawBuilder
	dead    *pipeline.DeadLetterBuilder // made at the first overlong line
	pending []*pipeline.Batch           // batches to hand out before reading on
	idle    bool                        // following: at the end of the file, nothing new after a poll
	gone    bool                        // following: the path no longer names a file
	forget  func()                      // following: called when the shard ends because its file is gone
	err     error                       // sticky: the end (ErrBoundReached, ErrShardEnd) or a failure
	closed  bool
}

// longLine is a line longer than MaxLineBytes, skipped without being kept.
type longLine struct {
	active  bool
	n       int64  // its bytes so far, without its newline
	payload []byte // its first min(MaxLineBytes, maxDeadPayload) bytes
}

// lineKind is what nextLine found.
type lineKind int

const (
	lineRecord lineKind = iota // a line, to be a record unless empty
	lineLong                   // an overlong line, to be a dead letter
	lineNone                   // no complete line in what the file holds now
)

// Read returns the next lines as records, up to BatchSize records or
// MaxBatchBytes bytes, or a dead letter for an overlong line, in file order.
// A final line without its newline is held back. At the end of the file a
// bounded reader returns pipeline.ErrBoundReached; a following one waits
// PollInterval for appended bytes, and returns nil if none came.
func (r *reader) Read(ctx context.Context) (*pipeline.Batch, error) {
	switch {
	case r.closed:
		return nil, ErrClosed
	case len(r.pending) > 0:
		return r.pop(), nil
	case r.err != nil:
		return nil, r.err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for polled := false; ; polled = true {
		atEnd, err := r.scan()
		if err != nil {
			r.err = fmt.Errorf("file: shard %s: %w", r.id, err)
			return nil, r.err
		}
		r.flush()
		switch {
		case len(r.pending) > 0:
			r.idle = false
			return r.pop(), nil
		case !atEnd:
			return nil, nil // a batch's worth of empty lines
		case !r.cfg.Follow:
			r.err = pipeline.ErrBoundReached
			return nil, r.err
		case r.gone:
			r.forget()
			r.err = pipeline.ErrShardEnd
			return nil, r.err
		case polled:
			r.idle = true
			return nil, nil
		}
		if err := r.poll(ctx); err != nil {
			return nil, err
		}
	}
}

// scan appends the next lines to the raw builder until the batch is full, an
// overlong line is queued as a dead letter, or no complete line is left in
// what the file holds now (atEnd).
func (r *reader) scan() (atEnd bool, err error) {
	// scanned bounds the work of one Read also when it meets only empty lines.
	scanned, size := 0, 0
	for r.rb.Len() < r.cfg.BatchSize && size < r.cfg.MaxBatchBytes && scanned < r.cfg.MaxBatchBytes {
		line, end, kind, err := r.nextLine()
		switch {
		case err != nil:
			return false, err
		case kind == lineNone:
			return true, nil
		case kind == lineLong:
			r.flush() // the records before it go first
			if r.dead == nil {
				r.dead = pipeline.NewDeadLetterBuilder(r.cfg.Mem, Name)
			}
			r.dead.Append(r.id, pipeline.Position{N: end},
				fmt.Errorf("line of %d bytes is longer than the limit of %d bytes (MaxLineBytes)", r.long.n, r.cfg.MaxLineBytes), line)
			r.pending = append(r.pending, r.dead.NewBatch(r.id))
			return false, nil
		}
		scanned += len(line) + 1
		if len(line) == 0 {
			continue
		}
		r.rb.Append(line, "", pipeline.Position{N: end}, 0)
		size += len(line)
	}
	return false, nil
}

// nextLine returns the next complete line without its newline and trailing
// carriage return (or the kept head of an overlong line), and the offset just
// past it. The line is valid until the next call.
func (r *reader) nextLine() (line []byte, end int64, kind lineKind, err error) {
	for {
		switch {
		case r.long.active:
			if i := bytes.IndexByte(r.buf[r.r:r.w], '\n'); i >= 0 {
				r.long.n += int64(i)
				r.r += i + 1
				r.long.active = false
				return r.long.payload, r.base + int64(r.r), lineLong, nil
			}
			r.long.n += int64(r.w - r.r)
			r.r = r.w // skipped, not kept
		default:
			// A record is at most MaxLineBytes without its newline and the
			// carriage return before it: buf holds up to MaxLineBytes+2 bytes.
			rest := r.buf[r.r:r.w]
			i := bytes.IndexByte(rest, '\n')
			if i >= 0 && len(trimCR(rest[:i])) <= r.cfg.MaxLineBytes {
				line = trimCR(rest[:i])
				r.r += i + 1
				return line, r.base + int64(r.r), lineRecord, nil
			}
			if i >= 0 || len(rest) > r.cfg.MaxLineBytes+1 || (len(rest) == r.cfg.MaxLineBytes+1 && rest[len(rest)-1] != '\r') {
				r.long.active = true
				r.long.n = 0
				r.long.payload = append(r.long.payload[:0], r.buf[r.r:r.r+min(r.cfg.MaxLineBytes, maxDeadPayload)]...)
				continue
			}
		}
		if r.eof {
			return nil, 0, lineNone, nil
		}
		if err := r.fill(); err != nil {
			return nil, 0, lineNone, err
		}
	}
}

// fill moves the unconsumed bytes to the front of buf, grows buf if it is
// full (up to two bytes more than the longest line: its carriage return and
// newline) and reads more.
func (r *reader) fill() error {
	if r.r > 0 {
		n := copy(r.buf, r.buf[r.r:r.w])
		r.base += int64(r.r)
		r.r, r.w = 0, n
	}
	if r.w == len(r.buf) {
		nb := make([]byte, min(2*len(r.buf), r.cfg.MaxLineBytes+2))
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

// poll waits PollInterval at the end of a followed file, then checks the
// file: truncated below what was read is an error, a path that names
// another file now is refused, a path that names no file ends the shard once
// what the open file still holds is read.
func (r *reader) poll(ctx context.Context) error {
	t := time.NewTimer(r.cfg.PollInterval)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	fi, err := r.f.Stat()
	if err != nil {
		r.err = fmt.Errorf("file: shard %s: %w", r.id, err)
		return r.err
	}
	if read := r.base + int64(r.w); fi.Size() < read {
		r.err = fmt.Errorf("file: %w: file %s is %d bytes long now, shorter than the %d bytes read: it was truncated while followed; put the original back, or start over with a new checkpoint directory and --overwrite",
			pipeline.ErrIncompatibleSource, r.id, fi.Size(), read)
		return r.err
	}
	switch now, err := os.Stat(r.id); {
	case os.IsNotExist(err):
		r.gone = true
	case err != nil:
		r.err = fmt.Errorf("file: shard %s: %w", r.id, err)
		return r.err
	default:
		if dev, ino := devIno(now); dev != r.fid.Dev || ino != r.fid.Ino {
			r.err = fmt.Errorf("file: %w", check(r.id, r.fid, fileID{Dev: dev, Ino: ino}, nil))
			return r.err
		}
	}
	r.eof = false
	return nil
}

// flush queues the records built so far as a batch.
func (r *reader) flush() {
	if b := r.rb.NewBatch(r.id); b != nil {
		r.pending = append(r.pending, b)
	}
}

// pop hands out the first queued batch, keeping the queue's array (it holds
// one or two batches) so that queueing allocates nothing.
func (r *reader) pop() *pipeline.Batch {
	b := r.pending[0]
	n := copy(r.pending, r.pending[1:])
	r.pending[n] = nil
	r.pending = r.pending[:n]
	return b
}

// Idle implements pipeline.IdleReporter: a following reader is idle while
// it is at the end of its file and a poll found nothing new, so that a file
// nobody writes to does not hold the job's watermark back.
func (r *reader) Idle() bool { return r.idle }

func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}

// Close closes the file and releases the reader's buffers and queued
// batches; it is idempotent.
func (r *reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	for _, b := range r.pending {
		b.Release()
	}
	r.pending = nil
	r.rb.Release()
	if r.dead != nil {
		r.dead.Release()
	}
	r.buf, r.long.payload = nil, nil
	return r.f.Close()
}
