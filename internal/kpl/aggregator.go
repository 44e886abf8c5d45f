package kpl

import (
	"crypto/md5"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// Kinesis limits an aggregate must respect.
const (
	// MaxKinesisRecordBytes is Kinesis's default limit on one record: its data
	// plus its partition key (1 MiB).
	MaxKinesisRecordBytes = 1 << 20
	// DefaultMaxBytes is an Aggregator's default limit on an aggregate's data
	// plus its partition key, below MaxKinesisRecordBytes.
	DefaultMaxBytes = 1_000_000
	// minMaxBytes is the smallest limit NewAggregator accepts.
	minMaxBytes = 64
)

// ErrRecordTooLarge is returned by Aggregator.Add for a user record that would
// not fit the limit even alone in an aggregate.
var ErrRecordTooLarge = errors.New("kpl: record too large for an aggregate")

// Aggregate is one packed Kinesis record.
type Aggregate struct {
	// PartitionKey is the key to put the aggregate under: the partition key
	// of its first user record, so the aggregate lands in that record's shard.
	PartitionKey string
	// Data is the aggregate, magic to MD5 trailer; the caller owns it.
	Data []byte
	// Records is the number of user records in the aggregate.
	Records int
}

// Aggregator packs user records, in the order they are added, into
// aggregates whose data plus partition key stay within a byte limit.
//
// It puts records of any partition keys into one aggregate; the aggregate
// goes to the shard of its first record's key. A producer that wants every
// user record in the shard its own key maps to keeps one Aggregator per
// shard (see sinks/kinesis). An Aggregator is used by one goroutine.
type Aggregator struct {
	maxBytes int
	keyIndex map[string]uint64
	keys     []string
	recs     []byte // encoded field-3 entries of the records added so far
	n        int
	keyBytes int // encoded size of the partition key table
}

// NewAggregator returns an aggregator whose aggregates, with their partition
// key, take at most maxBytes (DefaultMaxBytes when 0).
func NewAggregator(maxBytes int) (*Aggregator, error) {
	if maxBytes == 0 {
		maxBytes = DefaultMaxBytes
	}
	if maxBytes < minMaxBytes || maxBytes > 10*MaxKinesisRecordBytes {
		return nil, fmt.Errorf("kpl: aggregate limit %d bytes out of range [%d, %d]", maxBytes, minMaxBytes, 10*MaxKinesisRecordBytes)
	}
	return &Aggregator{maxBytes: maxBytes, keyIndex: make(map[string]uint64)}, nil
}

// Len is the number of user records in the open aggregate.
func (a *Aggregator) Len() int { return a.n }

// Size is the size the open aggregate would have now, data plus partition
// key; 0 when it is empty.
func (a *Aggregator) Size() int {
	if a.n == 0 {
		return 0
	}
	return Overhead + a.keyBytes + len(a.recs) + len(a.keys[0])
}

// Add appends a user record (its data is copied, and its partition key when
// the aggregate does not hold that key yet). When the record does not fit
// into the open aggregate, Add first closes that aggregate and returns it,
// and the record starts the next one; otherwise it returns nil. A record
// that does not fit even alone returns ErrRecordTooLarge and leaves the
// aggregator unchanged.
func (a *Aggregator) Add(partitionKey string, data []byte) (*Aggregate, error) {
	if alone := a.sizeWith(partitionKey, len(data), true); alone > a.maxBytes {
		return nil, fmt.Errorf("%w: %d bytes with its partition key, limit %d", ErrRecordTooLarge, alone, a.maxBytes)
	}
	var full *Aggregate
	if a.n > 0 && a.sizeWith(partitionKey, len(data), false) > a.maxBytes {
		full = a.Flush()
	}
	idx, ok := a.keyIndex[partitionKey]
	if !ok {
		partitionKey = strings.Clone(partitionKey) // kept until Flush; the caller may reuse its bytes
		idx = uint64(len(a.keys))
		a.keyIndex[partitionKey] = idx
		a.keys = append(a.keys, partitionKey)
		a.keyBytes += protowire.SizeTag(fieldPartitionKeyTable) + protowire.SizeBytes(len(partitionKey))
	}
	a.recs = protowire.AppendTag(a.recs, fieldRecords, protowire.BytesType)
	a.recs = protowire.AppendVarint(a.recs, uint64(recordSize(idx, len(data))))
	a.recs = protowire.AppendTag(a.recs, fieldPartitionKeyIndex, protowire.VarintType)
	a.recs = protowire.AppendVarint(a.recs, idx)
	a.recs = protowire.AppendTag(a.recs, fieldData, protowire.BytesType)
	a.recs = protowire.AppendBytes(a.recs, data)
	a.n++
	return full, nil
}

// Flush closes the open aggregate and returns it; nil when it is empty.
func (a *Aggregator) Flush() *Aggregate {
	if a.n == 0 {
		return nil
	}
	out := make([]byte, 0, Overhead+a.keyBytes+len(a.recs))
	out = append(out, Magic[:]...)
	for _, k := range a.keys {
		out = protowire.AppendTag(out, fieldPartitionKeyTable, protowire.BytesType)
		out = protowire.AppendString(out, k)
	}
	out = append(out, a.recs...)
	sum := md5.Sum(out[magicLen:])
	out = append(out, sum[:]...)
	agg := &Aggregate{PartitionKey: a.keys[0], Data: out, Records: a.n}
	clear(a.keyIndex)
	a.keys = a.keys[:0]
	a.recs = a.recs[:0]
	a.n, a.keyBytes = 0, 0
	return agg
}

// sizeWith is the size of the open aggregate (or of a new one, when alone)
// after adding a record with key and dataLen bytes of data.
func (a *Aggregator) sizeWith(key string, dataLen int, alone bool) int {
	idx, known := a.keyIndex[key]
	keyBytes, recs, first := a.keyBytes, len(a.recs), key
	if alone {
		keyBytes, recs, known = 0, 0, false
	} else if a.n > 0 {
		first = a.keys[0]
	}
	if !known {
		idx = uint64(len(a.keys))
		if alone {
			idx = 0
		}
		keyBytes += protowire.SizeTag(fieldPartitionKeyTable) + protowire.SizeBytes(len(key))
	}
	rs := recordSize(idx, dataLen)
	recs += protowire.SizeTag(fieldRecords) + protowire.SizeBytes(rs)
	return Overhead + keyBytes + recs + len(first)
}

// recordSize is the encoded size of a Record message body.
func recordSize(keyIndex uint64, dataLen int) int {
	return protowire.SizeTag(fieldPartitionKeyIndex) + protowire.SizeVarint(keyIndex) +
		protowire.SizeTag(fieldData) + protowire.SizeBytes(dataLen)
}
