package kpl

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// Magic is the prefix of every KPL aggregate.
var Magic = [4]byte{0xF3, 0x89, 0x9A, 0xC2}

const (
	magicLen  = len(Magic)
	digestLen = md5.Size
	// Overhead is the number of bytes an aggregate adds around its protobuf
	// body: the magic prefix and the MD5 trailer.
	Overhead = magicLen + digestLen
)

// Field numbers of the AggregatedRecord and Record messages.
const (
	fieldPartitionKeyTable    protowire.Number = 1
	fieldExplicitHashKeyTable protowire.Number = 2
	fieldRecords              protowire.Number = 3

	fieldPartitionKeyIndex    protowire.Number = 1
	fieldExplicitHashKeyIndex protowire.Number = 2
	fieldData                 protowire.Number = 3
	fieldTags                 protowire.Number = 4
)

// Errors returned by Deaggregate, wrapped with details; test with errors.Is.
var (
	// ErrNotAggregated: the data lacks the magic prefix or is too short to hold
	// a protobuf body and its checksum.
	ErrNotAggregated = errors.New("kpl: not an aggregated record")
	// ErrChecksum: the MD5 trailer does not match the protobuf body.
	ErrChecksum = errors.New("kpl: checksum mismatch")
	// ErrMalformed: the protobuf body is truncated or has a field of the wrong
	// wire type.
	ErrMalformed = errors.New("kpl: malformed aggregate")
	// ErrIndexOutOfRange: a record refers to a partition key or explicit hash
	// key that the aggregate's tables do not have.
	ErrIndexOutOfRange = errors.New("kpl: index out of range")
)

// IsAggregated reports whether data looks like a KPL aggregate: it starts with
// Magic and is long enough for the checksum. It does not verify the checksum;
// Deaggregate does.
func IsAggregated(data []byte) bool {
	return len(data) >= Overhead && [4]byte(data[:magicLen]) == Magic
}

// Deaggregate calls fn for every user record of the aggregate data, in order,
// with its sub-sequence number (0, 1, 2, ...), its partition key and its data.
//
// The whole aggregate is validated before fn is first called: on an invalid
// aggregate Deaggregate returns an error wrapping ErrNotAggregated,
// ErrChecksum, ErrMalformed or ErrIndexOutOfRange and never calls fn. An error
// returned by fn stops the iteration and is returned unchanged.
//
// The data slice handed to fn points into data (no copy) with its capacity
// clipped to its length; it is valid as long as data is not modified, and fn
// must copy it to keep it beyond that. Partition keys are ordinary strings,
// allocated once per entry of the aggregate's key table. Deaggregate never
// panics, whatever data holds.
func Deaggregate(data []byte, fn func(sub int64, partitionKey string, data []byte) error) error {
	body, err := verifiedBody(data)
	if err != nil {
		return err
	}
	t, err := scan(body)
	if err != nil {
		return err
	}
	var sub int64
	for b := body; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		b = b[n:] // scan has validated the structure
		if num != fieldRecords {
			b = b[protowire.ConsumeFieldValue(num, typ, b):]
			continue
		}
		rb, n := protowire.ConsumeBytes(b)
		b = b[n:]
		r, _ := parseRecord(rb)
		if err := fn(sub, t.keys[r.keyIndex], r.data); err != nil {
			return err
		}
		sub++
	}
	return nil
}

// Count returns the number of user records in the aggregate data after
// validating it as Deaggregate does.
func Count(data []byte) (int, error) {
	body, err := verifiedBody(data)
	if err != nil {
		return 0, err
	}
	t, err := scan(body)
	if err != nil {
		return 0, err
	}
	return t.records, nil
}

// verifiedBody checks the magic prefix and the MD5 trailer and returns the
// protobuf body between them.
func verifiedBody(data []byte) ([]byte, error) {
	if !IsAggregated(data) {
		return nil, ErrNotAggregated
	}
	body := data[magicLen : len(data)-digestLen]
	sum := md5.Sum(body)
	if !bytes.Equal(sum[:], data[len(data)-digestLen:]) {
		return nil, ErrChecksum
	}
	return body, nil
}

// tables is what a validating scan of an AggregatedRecord body finds.
type tables struct {
	keys    []string
	records int
}

// scan validates the whole body: its structure, every record, and every
// record's table indices against the final tables (protobuf allows the
// tables to come after the records that use them).
func scan(body []byte) (tables, error) {
	var t tables
	var hashKeys int
	var maxKey, maxHash uint64
	anyHash := false
	for b := body; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return t, fmt.Errorf("%w: tag: %v", ErrMalformed, protowire.ParseError(n))
		}
		b = b[n:]
		switch num {
		case fieldPartitionKeyTable, fieldExplicitHashKeyTable, fieldRecords:
			if typ != protowire.BytesType {
				return t, fmt.Errorf("%w: field %d has wire type %d", ErrMalformed, num, typ)
			}
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return t, fmt.Errorf("%w: field %d: %v", ErrMalformed, num, protowire.ParseError(n))
			}
			b = b[n:]
			switch num {
			case fieldPartitionKeyTable:
				t.keys = append(t.keys, string(v))
			case fieldExplicitHashKeyTable:
				hashKeys++
			default:
				r, err := parseRecord(v)
				if err != nil {
					return t, fmt.Errorf("record %d: %w", t.records, err)
				}
				maxKey = max(maxKey, r.keyIndex)
				if r.hasHash {
					anyHash = true
					maxHash = max(maxHash, r.hashIndex)
				}
				t.records++
			}
		default: // unknown fields are skipped, as protobuf requires
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return t, fmt.Errorf("%w: field %d: %v", ErrMalformed, num, protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	if t.records > 0 && maxKey >= uint64(len(t.keys)) {
		return t, fmt.Errorf("%w: partition key index %d, table has %d keys", ErrIndexOutOfRange, maxKey, len(t.keys))
	}
	if anyHash && maxHash >= uint64(hashKeys) {
		return t, fmt.Errorf("%w: explicit hash key index %d, table has %d keys", ErrIndexOutOfRange, maxHash, hashKeys)
	}
	return t, nil
}

// record is one parsed Record message.
type record struct {
	keyIndex  uint64
	hashIndex uint64
	hasHash   bool
	data      []byte
}

// parseRecord decodes a Record message. A missing partition_key_index or data
// field reads as 0 or empty, as a proto3 encoder would leave them out; the
// last occurrence of a repeated scalar field wins, as in protobuf. Tags are
// checked for structure and otherwise ignored.
func parseRecord(b []byte) (record, error) {
	var r record
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return r, fmt.Errorf("%w: record tag: %v", ErrMalformed, protowire.ParseError(n))
		}
		b = b[n:]
		want := protowire.BytesType
		switch num {
		case fieldPartitionKeyIndex, fieldExplicitHashKeyIndex:
			want = protowire.VarintType
		case fieldData, fieldTags:
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return r, fmt.Errorf("%w: record field %d: %v", ErrMalformed, num, protowire.ParseError(n))
			}
			b = b[n:]
			continue
		}
		if typ != want {
			return r, fmt.Errorf("%w: record field %d has wire type %d", ErrMalformed, num, typ)
		}
		if want == protowire.VarintType {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return r, fmt.Errorf("%w: record field %d: %v", ErrMalformed, num, protowire.ParseError(n))
			}
			b = b[n:]
			if num == fieldPartitionKeyIndex {
				r.keyIndex = v
			} else {
				r.hashIndex, r.hasHash = v, true
			}
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return r, fmt.Errorf("%w: record field %d: %v", ErrMalformed, num, protowire.ParseError(n))
		}
		b = b[n:]
		if num == fieldData {
			r.data = v[:len(v):len(v)]
		} else if err := checkTag(v); err != nil {
			return r, err
		}
	}
	return r, nil
}

// checkTag validates the structure of a Tag message.
func checkTag(b []byte) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeField(b)
		if n < 0 {
			return fmt.Errorf("%w: tag field: %v", ErrMalformed, protowire.ParseError(n))
		}
		if (num == 1 || num == 2) && typ != protowire.BytesType {
			return fmt.Errorf("%w: tag field %d has wire type %d", ErrMalformed, num, typ)
		}
		b = b[n:]
	}
	return nil
}
