package ckptfmt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"slices"

	"github.com/shardflow/shardflow/pipeline"
)

const (
	// Version is the format version Encode writes and the newest Decode reads.
	Version uint16 = 5
	// OldestVersion is the oldest format version Decode reads.
	OldestVersion uint16 = 1

	magic      = "SFCK"
	headerLen  = 4 + 2 + 8 // magic, version, payload length
	trailerLen = 4         // CRC-32C
	// Overhead is the size of an encoding beyond its payload.
	Overhead = headerLen + trailerLen

	flagFinished = 1 << 0
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Encode returns the encoding of cp in the current Version. It fails only for a nil cp.
func Encode(cp *pipeline.Checkpoint) ([]byte, error) {
	if cp == nil {
		return nil, errors.New("ckptfmt: encode: nil checkpoint")
	}
	shardIDs := slices.Sorted(maps.Keys(cp.Shards))
	opNames := slices.Sorted(maps.Keys(cp.Operators))
	sinkNames := slices.Sorted(maps.Keys(cp.Sinks))

	buf := make([]byte, headerLen, Overhead+payloadSize(cp))
	copy(buf, magic)
	binary.BigEndian.PutUint16(buf[4:], Version)

	secs, nanos := cp.Created.Unix(), cp.Created.Nanosecond()
	buf = binary.AppendUvarint(buf, cp.ID)
	buf = appendString(buf, cp.Job)
	buf = appendString(buf, cp.Fingerprint)
	buf = appendString(buf, cp.Run)
	buf = binary.AppendUvarint(buf, cp.Epoch)
	buf = binary.AppendUvarint(buf, uint64(len(cp.Source)))
	buf = append(buf, cp.Source...)
	buf = binary.AppendVarint(buf, secs)
	buf = binary.AppendUvarint(buf, uint64(nanos))
	buf = binary.AppendVarint(buf, cp.Watermark)

	buf = binary.AppendUvarint(buf, uint64(len(shardIDs)))
	for _, id := range shardIDs {
		s := cp.Shards[id]
		buf = appendString(buf, id)
		buf = appendString(buf, s.Position.Seq)
		buf = binary.AppendVarint(buf, s.Position.N)
		var flags byte
		if s.Finished {
			flags |= flagFinished
		}
		buf = append(buf, flags)
		buf = binary.AppendUvarint(buf, uint64(len(s.Parents)))
		for _, p := range s.Parents {
			buf = appendString(buf, p)
		}
		buf = binary.AppendVarint(buf, s.MaxEventTime)
		buf = binary.AppendVarint(buf, s.Arrival)
		buf = binary.AppendUvarint(buf, uint64(len(s.Keyed)))
		buf = append(buf, s.Keyed...)
		buf = appendBlobs(buf, slices.Sorted(maps.Keys(s.Local)), s.Local)
	}
	buf = appendBlobs(buf, opNames, cp.Operators)
	buf = appendBlobs(buf, sinkNames, cp.Sinks)

	binary.BigEndian.PutUint64(buf[6:], uint64(len(buf)-headerLen))
	return binary.BigEndian.AppendUint32(buf, crc32.Checksum(buf, castagnoli)), nil
}

// payloadSize returns an upper bound of cp's payload size, so that Encode
// allocates once.
func payloadSize(cp *pipeline.Checkpoint) int {
	const v = binary.MaxVarintLen64
	n := 9*v + len(cp.Job) + len(cp.Fingerprint) + len(cp.Run) + len(cp.Source) + v // fixed fields, shard count
	for id, s := range cp.Shards {
		n += 9*v + 1 + len(id) + len(s.Position.Seq) + len(s.Keyed)
		for _, p := range s.Parents {
			n += v + len(p)
		}
		for k, b := range s.Local {
			n += 2*v + len(k) + len(b)
		}
	}
	for _, m := range []map[string][]byte{cp.Operators, cp.Sinks} {
		n += v
		for k, b := range m {
			n += 2*v + len(k) + len(b)
		}
	}
	return n
}

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

func appendBlobs(buf []byte, names []string, m map[string][]byte) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(names)))
	for _, name := range names {
		buf = appendString(buf, name)
		b := m[name]
		buf = binary.AppendUvarint(buf, uint64(len(b)))
		buf = append(buf, b...)
	}
	return buf
}

// Decode parses an encoding made by Encode. The result does not alias data.
// See the package documentation for the errors it returns.
func Decode(data []byte) (*pipeline.Checkpoint, error) {
	version, payload, err := unframe(data)
	if err != nil {
		return nil, err
	}
	return decodePayload(version, payload)
}

// unframe checks the header and checksum and returns the format version and
// the payload.
func unframe(data []byte) (uint16, []byte, error) {
	// Check the magic on what there is, so that a short non-checkpoint file
	// is reported as such and not as truncated.
	if n := min(len(data), len(magic)); string(data[:n]) != magic[:n] {
		return 0, nil, ErrBadMagic
	}
	if len(data) < headerLen {
		return 0, nil, fmt.Errorf("%w: %d bytes, the header alone is %d", ErrTruncated, len(data), headerLen)
	}
	version := binary.BigEndian.Uint16(data[4:])
	if version < OldestVersion || version > Version {
		return 0, nil, &VersionError{Got: version}
	}
	plen := binary.BigEndian.Uint64(data[6:])
	rest := uint64(len(data) - headerLen)
	if rest < trailerLen || plen > rest-trailerLen {
		return 0, nil, fmt.Errorf("%w: header announces %d payload bytes, input has %d after the header (payload and %d-byte checksum)",
			ErrTruncated, plen, rest, trailerLen)
	}
	if extra := rest - trailerLen - plen; extra != 0 {
		return 0, nil, fmt.Errorf("%w: %d bytes after the checksum", ErrMalformed, extra)
	}
	end := headerLen + int(plen)
	stored := binary.BigEndian.Uint32(data[end:])
	if got := crc32.Checksum(data[:end], castagnoli); got != stored {
		return 0, nil, fmt.Errorf("%w: stored %08x, computed %08x", ErrChecksum, stored, got)
	}
	return version, data[headerLen:end], nil
}
