package tiles

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/shardflow/shardflow/internal/wire"
	"github.com/shardflow/shardflow/pipeline"
)

// ErrCorruptSnapshot is returned by Restore and RestoreShards for state that
// is damaged or was written by an operator of other features.
var ErrCorruptSnapshot = errors.New("tiles: corrupt snapshot")

// The snapshot format: magic, version, the slot counts of the plan (so that
// state of other features is refused), the watermark, the counters, then the
// entities: key, shard, tile count and per tile its index, records, slots,
// latest event time and Last values (a kind byte: 0 null, 1 string, 2 other).
const (
	magic   = "SFTL"
	version = 1
)

// Snapshot implements pipeline.KeyedOperator: the whole state in one part.
func (o *Operator) Snapshot() ([]byte, error) {
	return o.encode(true, slices.Collect(maps.Values(o.ents))), nil
}

// Restore implements pipeline.KeyedOperator.
func (o *Operator) Restore(state []byte) error { return o.RestoreShards([][]byte{state}, nil) }

// SnapshotShards implements pipeline.ShardSnapshotter: the common part holds
// the watermark and counters, each shard's part the entities whose latest
// record came from that shard.
func (o *Operator) SnapshotShards() (common []byte, shards map[string][]byte, err error) {
	by := map[string][]*entity{}
	for _, e := range o.ents {
		by[e.shard] = append(by[e.shard], e)
	}
	shards = make(map[string][]byte, len(by))
	for sh, ents := range by {
		shards[sh] = o.encode(false, ents)
	}
	return o.encode(true, nil), shards, nil
}

// RestoreShards implements pipeline.ShardSnapshotter: it keeps the entities
// of o's partition; the counters of commons go to partition 0, so that the
// instances' sum is the checkpointed run's. On error o is left as it was.
func (o *Operator) RestoreShards(commons [][]byte, shards map[string][][]byte) error {
	t := &Operator{p: o.p, ents: map[string]*entity{}, wm: pipeline.MinTime}
	for i, c := range commons {
		if err := t.decode(c, o.part == 0, o); err != nil {
			return fmt.Errorf("tiles: %s: common part %d of %d: %w", o.p.name, i, len(commons), err)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(shards)) {
		for _, part := range shards[name] {
			if err := t.decode(part, false, o); err != nil {
				return fmt.Errorf("tiles: %s: shard %s: %w", o.p.name, name, err)
			}
		}
	}
	o.ents, o.wm = t.ents, t.wm
	o.wt = floorDiv(o.wm, o.p.tile)
	o.lateRows, o.nullRows, o.tileRows, o.onlineRows = t.lateRows, t.nullRows, t.tileRows, t.onlineRows
	o.pending, o.order = map[int64][]*entity{}, nil
	for _, k := range slices.Sorted(maps.Keys(o.ents)) {
		e := o.ents[k]
		for _, idx := range e.idx {
			if idx >= o.wt {
				o.schedule(idx, e)
			}
		}
	}
	return nil
}

func (o *Operator) encode(withCounters bool, ents []*entity) []byte {
	p := o.p
	b := append([]byte(magic), version)
	for _, n := range []int{p.nInts, p.nFloats, p.nLasts} {
		b = binary.AppendUvarint(b, uint64(n))
	}
	b = binary.AppendVarint(b, o.wm)
	var counters [4]int64
	if withCounters {
		counters = [4]int64{o.lateRows, o.nullRows, o.tileRows, o.onlineRows}
	}
	for _, c := range counters {
		b = binary.AppendVarint(b, c)
	}
	slices.SortFunc(ents, func(a, b *entity) int { return strings.Compare(a.key, b.key) })
	b = binary.AppendUvarint(b, uint64(len(ents)))
	str := func(s string) { b = append(binary.AppendUvarint(b, uint64(len(s))), s...) }
	for _, e := range ents {
		str(e.key)
		str(e.shard)
		b = binary.AppendUvarint(b, uint64(len(e.idx)))
		for i, idx := range e.idx { // each tile's own values, not the running totals
			b = binary.AppendVarint(b, idx)
			b = binary.AppendVarint(b, e.records(i, i))
			b = binary.AppendVarint(b, e.lastTs[i])
			for slot := range p.nInts {
				b = binary.AppendVarint(b, e.intSum(i, i, p.nInts, slot))
			}
			for _, v := range e.floats[i*p.nFloats : (i+1)*p.nFloats] {
				b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
			}
			for _, v := range e.lasts[i*p.nLasts : (i+1)*p.nLasts] {
				switch {
				case v.null:
					b = append(b, 0)
				case v.s != "":
					b = append(b, 1)
					str(v.s)
				default:
					b = append(b, 2)
					b = binary.AppendVarint(b, v.i)
				}
			}
		}
	}
	return b
}

// decode adds the state in b to t: its entities of the partition of into,
// its watermark (the highest wins) and, with counters, its counters.
func (t *Operator) decode(b []byte, counters bool, into *Operator) error {
	p := t.p
	if len(b) < len(magic)+1 || string(b[:len(magic)]) != magic {
		return fmt.Errorf("%w: not tile state", ErrCorruptSnapshot)
	}
	if b[len(magic)] != version {
		return fmt.Errorf("%w: format version %d, this build reads %d; start the job with a fresh checkpoint directory", ErrCorruptSnapshot, b[len(magic)], version)
	}
	r := wire.NewReader(b[len(magic)+1:], ErrCorruptSnapshot)
	if ni, nf, nl := r.Uvarint(), r.Uvarint(), r.Uvarint(); r.Err() == nil && (ni != uint64(p.nInts) || nf != uint64(p.nFloats) || nl != uint64(p.nLasts)) {
		return fmt.Errorf("%w: the state is of other features", ErrCorruptSnapshot)
	}
	t.wm = max(t.wm, r.Varint())
	var c [4]int64
	for i := range c {
		c[i] = r.Varint()
	}
	if counters {
		t.lateRows += c[0]
		t.nullRows += c[1]
		t.tileRows += c[2]
		t.onlineRows += c[3]
	}
	for range r.Count(3) {
		e := &entity{key: r.String(), shard: r.String()}
		nt := r.Count(4)
		prev := int64(math.MinInt64)
		for i := range nt {
			idx := r.Varint()
			if i > 0 && idx <= prev {
				r.Fail("tiles out of order")
			}
			prev = idx
			e.idx = append(e.idx, idx)
			e.n = append(e.n, r.Varint()) // rebuilt as running totals below
			e.lastTs = append(e.lastTs, r.Varint())
			for slot := range p.nInts {
				e.ints = append(e.ints, r.Varint())
				if i > 0 {
					e.ints[i*p.nInts+slot] += e.ints[(i-1)*p.nInts+slot]
				}
			}
			if i > 0 {
				e.n[i] += e.n[i-1]
			}
			for range p.nFloats {
				e.floats = append(e.floats, math.Float64frombits(r.Uint64()))
			}
			for range p.nLasts {
				var v value
				switch r.Byte() {
				case 0:
					v.null = true
				case 1:
					v.s = r.String()
				case 2:
					v.i = r.Varint()
				default:
					r.Fail("value kind")
				}
				e.lasts = append(e.lasts, v)
			}
		}
		if err := r.Err(); err != nil {
			return err
		}
		if nt == 0 {
			return fmt.Errorf("%w: entity %q has no tiles", ErrCorruptSnapshot, e.key)
		}
		if pipeline.NewKeyHash().String(e.key).Partition(into.parts) != into.part {
			continue
		}
		if t.ents[e.key] != nil {
			return fmt.Errorf("%w: entity %q is in two parts", ErrCorruptSnapshot, e.key)
		}
		t.ents[e.key] = e
	}
	if err := r.Err(); err != nil {
		return err
	}
	if r.Len() != 0 {
		return fmt.Errorf("%w: %d bytes after the state", ErrCorruptSnapshot, r.Len())
	}
	return nil
}
