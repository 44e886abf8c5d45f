// Package wire reads the varint-framed binary encodings of shardflow's state
// (window snapshots, feature-store checkpoint handles).
package wire

import (
	"encoding/binary"
	"fmt"
)

// Reader consumes an encoding. The first failure sticks: every method returns
// a zero value once it is set, so a decoder reads straight through and checks
// Err once per loop.
type Reader struct {
	b    []byte
	base error
	err  error
}

// NewReader reads b; its errors wrap base (e.g. ErrCorruptSnapshot).
func NewReader(b []byte, base error) *Reader { return &Reader{b: b, base: base} }

// Fail records that the input is malformed at what, unless a failure is
// recorded already, and drops the rest of the input.
func (r *Reader) Fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", r.base, what)
	}
	r.b = nil
}

// Err is the first failure, or nil.
func (r *Reader) Err() error { return r.err }

// Len is the number of bytes not read yet.
func (r *Reader) Len() int { return len(r.b) }

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.Fail("truncated")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Varint reads a signed varint.
func (r *Reader) Varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.Fail("truncated")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Uint64 reads 8 little-endian bytes.
func (r *Reader) Uint64() uint64 {
	if len(r.b) < 8 {
		r.Fail("truncated")
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if len(r.b) < 1 {
		r.Fail("truncated")
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

// String reads a uvarint length and that many bytes.
func (r *Reader) String() string {
	n := r.Uvarint()
	if n > uint64(len(r.b)) {
		r.Fail("truncated string")
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// Count reads a count of items that take at least minBytes each, refusing
// counts that the remaining input cannot hold.
func (r *Reader) Count(minBytes int) int {
	n := r.Uvarint()
	if n > uint64(len(r.b)/minBytes) {
		r.Fail("count")
		return 0
	}
	return int(n)
}
