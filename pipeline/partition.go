package pipeline

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/cespare/xxhash/v2"
)

// PartitionedOperator is a KeyedOperator that can run as one of several
// instances, each on a goroutine of its own: the job hashes every row's key
// (KeyHash) and gives instance i of n the batches' rows whose key lands in
// partition i, as Batch.Rows; every instance sees every watermark. Its
// RestoreShards keeps the part of the state of every instance of the run
// that checkpointed that lands in its partition, so a job resumes with
// another parallelism than the run that checkpointed. A keyed operator that
// is not one runs as a single instance.
type PartitionedOperator interface {
	KeyedOperator
	ShardSnapshotter
}

// OperatorGroup is shared by the instances of one keyed stage in a job, for
// the little state they must agree on (what counts as a window fired when
// every instance fires its part of it).
type OperatorGroup struct {
	mu     sync.Mutex
	shared map[string]any
}

// Shared returns the value stored under key, storing make's result first if
// there is none. Values must be safe for concurrent use.
func (g *OperatorGroup) Shared(key string, make func() any) any {
	g.mu.Lock()
	defer g.mu.Unlock()
	if v, ok := g.shared[key]; ok {
		return v
	}
	if g.shared == nil {
		g.shared = map[string]any{}
	}
	v := make()
	g.shared[key] = v
	return v
}

// KeyHash places a key in a partition. Start from NewKeyHash and add the key
// columns' values in key order: strings as their bytes, integers (of any
// width, timestamps and dates included) as their 64-bit two's-complement
// value, unsigned ones as they are, booleans as 0 and 1. The hash is the same
// in every process, so a run with the same parallelism gives each instance
// the keys it had.
type KeyHash uint64

// NewKeyHash is the hash of no column.
func NewKeyHash() KeyHash { return 0x9e3779b97f4a7c15 }

const keyMul = 0xff51afd7ed558ccd

func (h KeyHash) add(v uint64) KeyHash {
	return KeyHash(bits.RotateLeft64(uint64(h)^v, 31) * keyMul)
}

// String adds a string value.
func (h KeyHash) String(s string) KeyHash { return h.add(xxhash.Sum64String(s)) }

// Int adds an integer or boolean value.
func (h KeyHash) Int(v uint64) KeyHash { return h.add(v*0xc4ceb9fe1a85ec53 + 1) }

// Null adds a null.
func (h KeyHash) Null() KeyHash { return h.add(0x5851f42d4c957f2d) }

// Partition is the partition of n that the key lands in.
func (h KeyHash) Partition(n int) int {
	x := uint64(h)
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return int(x % uint64(n))
}

// partitioner splits a batch's rows by the partitions of their keys.
type partitioner struct {
	cols   []int // key columns in the keyed stage's input
	n      int
	hashes []KeyHash
	part   []int32 // partition of each row
}

// checkPartitionable reports an error for a key column whose type KeyHash
// does not cover.
func checkPartitionable(schema *arrow.Schema, cols []int) error {
	for _, c := range cols {
		switch t := schema.Field(c).Type; t.ID() {
		case arrow.STRING, arrow.LARGE_STRING, arrow.BOOL,
			arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
			arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
			arrow.TIMESTAMP, arrow.DATE32, arrow.DATE64:
		default:
			return fmt.Errorf("key column %q is %s, which cannot be partitioned; run the job with parallelism 1", schema.Field(c).Name, t)
		}
	}
	return nil
}

// split returns, per partition, the rows of rec whose key lands in it, in
// ascending order; one array holds them all.
func (p *partitioner) split(rec arrow.RecordBatch) [][]int32 {
	n := int(rec.NumRows())
	if cap(p.hashes) < n {
		p.hashes = make([]KeyHash, n)
	}
	h := p.hashes[:n]
	HashKeys(rec, p.cols, h)
	p.part = p.part[:0]
	counts := make([]int32, p.n+1) // then the start of each partition's rows
	for _, x := range h {
		k := int32(x.Partition(p.n))
		p.part = append(p.part, k)
		counts[k+1]++
	}
	for k := 1; k <= p.n; k++ {
		counts[k] += counts[k-1]
	}
	rows := make([]int32, n) // they travel with the batch: a new array each time
	next := slices.Clone(counts[:p.n])
	for i, k := range p.part {
		rows[next[k]] = int32(i)
		next[k]++
	}
	out := make([][]int32, p.n)
	for k := range out {
		out[k] = rows[counts[k]:counts[k+1]:counts[k+1]]
	}
	return out
}

// HashKeys writes to dst the KeyHash of every row's key, the values of the
// columns cols in that order. dst has room for every row of rec.
func HashKeys(rec arrow.RecordBatch, cols []int, dst []KeyHash) {
	h := dst[:rec.NumRows()]
	for i := range h {
		h[i] = NewKeyHash()
	}
	for _, c := range cols {
		hashColumn(rec.Column(c), h)
	}
}

// hashColumn adds every value of arr to h.
func hashColumn(arr arrow.Array, h []KeyHash) {
	nulls := arr.NullN() > 0
	valid := func(i int) bool { return !nulls || arr.IsValid(i) }
	switch a := arr.(type) {
	case *array.String:
		hashEach(h, valid, func(i int) KeyHash { return h[i].String(a.Value(i)) })
	case *array.LargeString:
		hashEach(h, valid, func(i int) KeyHash { return h[i].String(a.Value(i)) })
	case *array.Boolean:
		hashEach(h, valid, func(i int) KeyHash {
			if a.Value(i) {
				return h[i].Int(1)
			}
			return h[i].Int(0)
		})
	case *array.Int8:
		hashInts(h, valid, a.Int8Values())
	case *array.Int16:
		hashInts(h, valid, a.Int16Values())
	case *array.Int32:
		hashInts(h, valid, a.Int32Values())
	case *array.Int64:
		hashInts(h, valid, a.Int64Values())
	case *array.Uint8:
		hashInts(h, valid, a.Uint8Values())
	case *array.Uint16:
		hashInts(h, valid, a.Uint16Values())
	case *array.Uint32:
		hashInts(h, valid, a.Uint32Values())
	case *array.Uint64:
		hashInts(h, valid, a.Uint64Values())
	case *array.Timestamp:
		hashInts(h, valid, a.TimestampValues())
	case *array.Date32:
		hashInts(h, valid, a.Date32Values())
	case *array.Date64:
		hashInts(h, valid, a.Date64Values())
	}
}

// hashEach sets h[i] to f(i) for every valid row, to h[i].Null() for the others.
func hashEach(h []KeyHash, valid func(int) bool, f func(i int) KeyHash) {
	for i := range h {
		if valid(i) {
			h[i] = f(i)
		} else {
			h[i] = h[i].Null()
		}
	}
}

// hashInts adds integer values: int64(v) sign-extends the signed types and
// zero-extends the unsigned ones, and its bits are what KeyHash.Int takes.
func hashInts[T ~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64](h []KeyHash, valid func(int) bool, vals []T) {
	for i, v := range vals[:len(h)] {
		if valid(i) {
			h[i] = h[i].Int(uint64(int64(v)))
		} else {
			h[i] = h[i].Null()
		}
	}
}

// The keyed state of a job that runs its keyed stage in several partitions
// is one entry of Checkpoint.Operators holding every instance's snapshot:
//
//	magic "SFKP", version 1, uvarint count, then per instance a uvarint
//	length and the snapshot
//
// A job with one partition stores its instance's snapshot as it is, as
// before partitions existed.
const (
	partsMagic   = "SFKP"
	partsVersion = 1
)

func encodePartitions(states [][]byte) []byte {
	if len(states) == 1 {
		return states[0]
	}
	size := len(partsMagic) + 1 + binary.MaxVarintLen64
	for _, s := range states {
		size += binary.MaxVarintLen64 + len(s)
	}
	b := make([]byte, 0, size)
	b = append(b, partsMagic...)
	b = append(b, partsVersion)
	b = binary.AppendUvarint(b, uint64(len(states)))
	for _, s := range states {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

var errPartitions = errors.New("corrupt partitioned state")

// decodePartitions returns the instance snapshots in state; a state that is
// not partitioned is one snapshot.
func decodePartitions(state []byte) ([][]byte, error) {
	if len(state) < len(partsMagic)+1 || string(state[:len(partsMagic)]) != partsMagic {
		return [][]byte{state}, nil
	}
	if v := state[len(partsMagic)]; v != partsVersion {
		return nil, fmt.Errorf("partitioned state version %d, this build reads %d: resume it with the release that wrote it", v, partsVersion)
	}
	b := state[len(partsMagic)+1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, errPartitions
	}
	b = b[k:]
	states := make([][]byte, 0, n)
	for range n {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, errPartitions
		}
		states = append(states, b[k:k+int(l)])
		b = b[k+int(l):]
	}
	if len(b) != 0 {
		return nil, errPartitions
	}
	return states, nil
}
