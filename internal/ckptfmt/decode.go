package ckptfmt

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/shardflow/shardflow/pipeline"
)

// Smallest encodings, used to bound counts by the bytes that remain before
// anything is allocated for them.
const (
	minShardLen = 6 // id, seq, n, flags, parent count, max event time
	minBlobLen  = 2 // name length, blob length
	minParent   = 1 // string length
)

// reader consumes a payload. The first error sticks; every method returns a
// zero value once it is set, so decodePayload reads straight through and
// checks once per loop.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: at payload offset %d: %s", ErrMalformed, r.off, fmt.Sprintf(format, args...))
	}
}

func (r *reader) remaining() int { return len(r.b) - r.off }

func (r *reader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.fail("bad varint for %s", what)
		return 0
	}
	r.off += n
	return v
}

func (r *reader) varint(what string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		r.fail("bad varint for %s", what)
		return 0
	}
	r.off += n
	return v
}

// bytes returns the next length-prefixed field, aliasing the payload.
func (r *reader) bytes(what string) []byte {
	n := r.uvarint(what + " length")
	if r.err != nil {
		return nil
	}
	if n > uint64(r.remaining()) {
		r.fail("%s of %d bytes, only %d remain", what, n, r.remaining())
		return nil
	}
	b := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return b
}

func (r *reader) string(what string) string { return string(r.bytes(what)) }

// count reads a number of elements whose encodings take at least min bytes
// each, and rejects counts the remaining bytes cannot hold.
func (r *reader) count(what string, min int) int {
	n := r.uvarint(what)
	if r.err != nil {
		return 0
	}
	if n > uint64(r.remaining()/min) {
		r.fail("%d %s cannot fit in %d bytes", n, what, r.remaining())
		return 0
	}
	return int(n)
}

func (r *reader) byte(what string) byte {
	if r.err != nil {
		return 0
	}
	if r.remaining() < 1 {
		r.fail("missing %s", what)
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

// decodePayload parses the payload of the given format version, which unframe
// checked is one Decode reads.
func decodePayload(version uint16, payload []byte) (*pipeline.Checkpoint, error) {
	r := &reader{b: payload}
	cp := &pipeline.Checkpoint{}
	cp.ID = r.uvarint("id")
	cp.Job = r.string("job")
	cp.Fingerprint = r.string("fingerprint")
	if version >= 2 {
		cp.Run = r.string("run")
		cp.Epoch = r.uvarint("epoch")
		if src := r.bytes("source"); len(src) > 0 {
			cp.Source = append([]byte(nil), src...)
		}
	}
	secs := r.varint("created seconds")
	nanos := r.uvarint("created nanoseconds")
	if r.err == nil && nanos >= 1e9 {
		r.fail("created nanoseconds %d out of range", nanos)
	}
	cp.Created = time.Unix(secs, int64(nanos)).UTC()
	cp.Watermark = r.varint("watermark")

	n := r.count("shards", minShardLen)
	cp.Shards = make(map[string]pipeline.ShardState, n)
	for i := 0; i < n && r.err == nil; i++ {
		id := r.string("shard id")
		var s pipeline.ShardState
		s.Position.Seq = r.string("position seq")
		s.Position.N = r.varint("position n")
		flags := r.byte("shard flags")
		if flags&^flagFinished != 0 {
			r.fail("shard %q: unknown flags %#02x", id, flags)
		}
		s.Finished = flags&flagFinished != 0
		if np := r.count("parents", minParent); np > 0 {
			s.Parents = make([]string, np)
			for j := range s.Parents {
				s.Parents[j] = r.string("parent")
			}
		}
		s.MaxEventTime = r.varint("max event time")
		if version >= 4 {
			s.Arrival = r.varint("arrival")
		}
		if version >= 3 {
			if k := r.bytes("shard keyed state"); len(k) > 0 {
				s.Keyed = append([]byte(nil), k...)
			}
		}
		if version >= 5 {
			if local := r.blobs("shard local states"); len(local) > 0 {
				s.Local = local
			}
		}
		if _, dup := cp.Shards[id]; dup && r.err == nil {
			r.fail("shard %q twice", id)
		}
		cp.Shards[id] = s
	}
	cp.Operators = r.blobs("operator states")
	cp.Sinks = r.blobs("sink handles")
	if r.err == nil && r.remaining() != 0 {
		r.fail("%d bytes after the last field", r.remaining())
	}
	if r.err != nil {
		return nil, r.err
	}
	return cp, nil
}

// blobs reads a name -> bytes section, copying the bytes out of the payload.
func (r *reader) blobs(what string) map[string][]byte {
	n := r.count(what, minBlobLen)
	m := make(map[string][]byte, n)
	for i := 0; i < n && r.err == nil; i++ {
		name := r.string(what + " name")
		b := r.bytes(what + " value")
		if _, dup := m[name]; dup && r.err == nil {
			r.fail("%s: %q twice", what, name)
		}
		if len(b) > 0 {
			m[name] = append([]byte(nil), b...)
		} else {
			m[name] = nil
		}
	}
	return m
}
