package windows

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"maps"
	"math"
	"slices"

	"github.com/shardflow/shardflow/internal/wire"
)

// Session snapshot format, version 1. Integers are varints (signed) or
// uvarints (counts, ids); floats are 8 bytes little-endian; strings are a
// uvarint length and the bytes; dicts as in the window snapshot.
//
//	magic "SFSS", version byte
//	stage name (a snapshot restores only into the same stage)
//	watermark, rows_in, late_rows, null_time_rows, windows_fired, compact
//	key dicts (one per key column), then key tuples when there are several
//	value dicts of the First and Last aggregates of string columns and of
//	the CountDistinct aggregates, in aggregate order
//	shards, sorted by name: name, sessions: key id, first, last, then every
//	  aggregate's partial (n, i, u, f, t as its store says; for CountDistinct
//	  n then the n value ids, ascending)
//	CRC-32C of everything before it, 4 bytes little-endian
//
// The dicts hold only what the snapshot's sessions use, so that one shard's
// part restores without the others.
const (
	sessMagic   = "SFSS"
	sessVersion = 1
)

// Snapshot implements pipeline.KeyedOperator.
func (o *SessionOperator) Snapshot() ([]byte, error) { return o.encode(o.byName, true), nil }

// SnapshotShards implements pipeline.ShardSnapshotter: common holds the
// instance's watermark and counters, and each shard's part that shard's
// partial sessions with the keys and values they use.
func (o *SessionOperator) SnapshotShards() (common []byte, shards map[string][]byte, err error) {
	common = o.encode(nil, true)
	shards = make(map[string][]byte, len(o.byName))
	for _, sh := range o.byName {
		shards[sh.name] = o.encode([]*sessShard{sh}, false)
	}
	return common, shards, nil
}

// encode writes the state of shs, with o's counters if counters is set.
func (o *SessionOperator) encode(shs []*sessShard, counters bool) []byte {
	kt := newKeyTable(o.p.keyPhys)
	kmap := map[uint32]uint32{}
	vds := make([]*dict, len(o.sdicts))
	vmaps := make([]map[uint32]uint32, len(o.sdicts))
	for a, d := range o.sdicts {
		if d != nil {
			vds[a], vmaps[a] = newDict(d.phys), map[uint32]uint32{}
		}
	}
	for _, sh := range shs {
		for s := range sh.sess {
			kid := sh.sess[s].kid
			if kid == noKey {
				continue
			}
			if _, ok := kmap[kid]; !ok {
				kmap[kid] = kt.internFrom(o.keys, kid)
			}
			for a, d := range o.sdicts {
				if d == nil || sh.accs[a].n[s] == 0 {
					continue
				}
				vs := []uint32{uint32(0)}
				if o.p.dist[a] {
					vs = sh.dv[a][s]
				} else {
					vs[0] = uint32(sh.accs[a].i[s])
				}
				for _, v := range vs {
					if _, ok := vmaps[a][v]; !ok {
						vmaps[a][v] = vds[a].internFrom(d, v)
					}
				}
			}
		}
	}
	b := make([]byte, 0, 1024)
	b = append(b, sessMagic...)
	b = append(b, sessVersion)
	b = appendString(b, o.p.name)
	b = binary.AppendVarint(b, o.wm)
	cs := []int64{0, 0, 0, 0}
	if counters {
		cs = []int64{o.rowsIn, o.lateRows, o.nullTimeRows, o.fired}
	}
	for _, v := range append(cs, int64(o.compact)) {
		b = binary.AppendVarint(b, v)
	}
	for _, d := range kt.cols {
		b = appendDict(b, d)
	}
	if len(kt.cols) > 1 {
		b = binary.AppendUvarint(b, uint64(kt.len()))
		for _, id := range kt.ids {
			b = binary.AppendUvarint(b, uint64(id))
		}
	}
	for _, d := range vds {
		if d != nil {
			b = appendDict(b, d)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(shs)))
	for _, sh := range shs {
		b = appendString(b, sh.name)
		b = binary.AppendUvarint(b, uint64(sh.live))
		for s := range sh.sess {
			se := &sh.sess[s]
			if se.kid == noKey {
				continue
			}
			b = binary.AppendUvarint(b, uint64(kmap[se.kid]))
			b = binary.AppendVarint(b, se.first)
			b = binary.AppendVarint(b, se.last)
			for a := range o.p.aggs {
				ap, m := &o.p.aggs[a], &sh.accs[a]
				if ap.store&storeN != 0 {
					b = binary.AppendVarint(b, m.n[s])
				}
				if ap.store&storeI != 0 {
					v := m.i[s]
					if o.sdicts[a] != nil && m.n[s] > 0 {
						v = int64(vmaps[a][uint32(v)])
					}
					b = binary.AppendVarint(b, v)
				}
				if ap.store&storeU != 0 {
					b = binary.AppendUvarint(b, m.u[s])
				}
				if ap.store&storeF != 0 {
					b = binary.LittleEndian.AppendUint64(b, math.Float64bits(m.f[s]))
				}
				if ap.store&storeT != 0 {
					b = binary.AppendVarint(b, m.t[s])
				}
				if o.p.dist[a] {
					ids := make([]uint32, len(sh.dv[a][s]))
					for k, v := range sh.dv[a][s] {
						ids[k] = vmaps[a][v]
					}
					slices.Sort(ids)
					for _, v := range ids {
						b = binary.AppendUvarint(b, uint64(v))
					}
				}
			}
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// Restore implements pipeline.KeyedOperator: it replaces the operator's state
// with one returned by Snapshot of the same stage, keeping the keys of its
// partition. On error the state is left as it was.
func (o *SessionOperator) Restore(state []byte) error {
	src, err := o.decode(state)
	if err != nil {
		return err
	}
	t := o.temp()
	t.absorb(src)
	t.wm, t.compact = src.wm, src.compact
	t.rowsIn, t.lateRows, t.nullTimeRows, t.fired = src.rowsIn, src.lateRows, src.nullTimeRows, src.fired
	o.adopt(t)
	return nil
}

// RestoreShards implements pipeline.ShardSnapshotter: it restores commons
// (whole snapshots too) and the shards' parts, keeping the keys of o's
// partition. The counters of commons go to the instance of partition 0, so
// that the instances' sum is the checkpointed run's. On error the state is
// left as it was.
func (o *SessionOperator) RestoreShards(commons [][]byte, shards map[string][][]byte) error {
	t := o.temp()
	for i, common := range commons {
		c, err := o.decode(common)
		if err != nil {
			return fmt.Errorf("partition %d of %d: %w", i, len(commons), err)
		}
		t.absorb(c)
		t.wm, t.compact = max(t.wm, c.wm), max(t.compact, c.compact)
		if o.part == 0 {
			t.rowsIn += c.rowsIn
			t.lateRows += c.lateRows
			t.nullTimeRows += c.nullTimeRows
			t.fired += c.fired
		}
	}
	for _, name := range slices.Sorted(maps.Keys(shards)) {
		for _, part := range shards[name] {
			src, err := o.decode(part)
			if err != nil {
				return fmt.Errorf("shard %s: %w", name, err)
			}
			if len(src.byName) > 1 || len(src.byName) == 1 && src.byName[0].name != name {
				return fmt.Errorf("shard %s: %w: the part holds other shards", name, ErrCorruptSnapshot)
			}
			t.absorb(src)
		}
	}
	o.adopt(t)
	return nil
}

// temp returns an empty operator of o's stage and partition.
func (o *SessionOperator) temp() *SessionOperator {
	t := &SessionOperator{p: o.p, mem: o.mem, filters: o.filters,
		minCompact: o.minCompact, part: o.part, nparts: o.nparts}
	t.reset()
	return t
}

// adopt replaces o's state with t's, a temporary operator of o's.
func (o *SessionOperator) adopt(t *SessionOperator) {
	t.rebuildHeap()
	*o = *t
}

// absorb adds the sessions of src (a decoded snapshot) whose keys land in
// o's partition to o's state, merging those that come within the gap of
// sessions o holds for the same key and shard.
func (o *SessionOperator) absorb(src *SessionOperator) {
	own := make([]int8, src.keys.len()) // per src key id: 0 unknown, 1 o's, -1 another partition's
	for _, ssh := range src.byName {
		var sh *sessShard
		for ss := range ssh.sess {
			se := ssh.sess[ss]
			if se.kid == noKey {
				continue
			}
			if own[se.kid] == 0 {
				own[se.kid] = -1
				if o.nparts <= 1 || keyHash(src.keys, se.kid).Partition(o.nparts) == o.part {
					own[se.kid] = 1
				}
			}
			if own[se.kid] < 0 {
				continue
			}
			if sh == nil {
				sh = o.shard(ssh.name)
			}
			kid := o.keys.internFrom(src.keys, se.kid)
			if int(kid) >= len(sh.head) {
				sh.head = append(sh.head, make([]int32, o.keys.len()-len(sh.head))...)
			}
			s := o.alloc(sh, kid, se.first, se.last)
			for a := range o.p.aggs {
				mergeSlot(&o.p.aggs[a], &sh.accs[a], s, &ssh.accs[a], int32(ss))
				if o.p.dist[a] {
					ids := sh.dv[a][s][:0]
					for _, v := range ssh.dv[a][ss] {
						ids = append(ids, o.sdicts[a].internFrom(src.sdicts[a], v))
					}
					slices.Sort(ids)
					sh.dv[a][s] = ids
					sh.accs[a].n[s] = int64(len(ids))
				} else if o.sdicts[a] != nil && sh.accs[a].n[s] > 0 {
					sh.accs[a].i[s] = int64(o.sdicts[a].internFrom(src.sdicts[a], uint32(sh.accs[a].i[s])))
				}
			}
			// Fold in the sessions of the key within the gap.
			cur := &sh.sess[s]
			for p := &sh.head[kid]; *p != 0; {
				e := *p - 1
				es := &sh.sess[e]
				if es.first <= addSat(cur.last, o.p.gap) && cur.first <= addSat(es.last, o.p.gap) {
					cur.first, cur.last = min(cur.first, es.first), max(cur.last, es.last)
					o.mergeInto(sh, s, e)
					*p = es.next
					o.release(sh, e)
					cur = &sh.sess[s]
					continue
				}
				p = &es.next
			}
			o.link(sh, kid, s)
		}
	}
}

// decode reads a snapshot of o's stage into a temporary operator, whose
// sessions are not linked (only absorb reads them).
func (o *SessionOperator) decode(state []byte) (*SessionOperator, error) {
	if len(state) < len(sessMagic)+1+4 || string(state[:len(sessMagic)]) != sessMagic {
		return nil, fmt.Errorf("%w: bad header", ErrCorruptSnapshot)
	}
	if v := state[len(sessMagic)]; v != sessVersion {
		return nil, fmt.Errorf("windows: session snapshot version %d, want %d", v, sessVersion)
	}
	body, sum := state[:len(state)-4], binary.LittleEndian.Uint32(state[len(state)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorruptSnapshot)
	}
	r := wire.NewReader(body[len(sessMagic)+1:], ErrCorruptSnapshot)
	if name := r.String(); r.Err() == nil && name != o.p.name {
		return nil, fmt.Errorf("windows: snapshot of stage %q cannot restore stage %q", name, o.p.name)
	}
	t := o.temp()
	t.wm = r.Varint()
	t.rowsIn, t.lateRows, t.nullTimeRows, t.fired = r.Varint(), r.Varint(), r.Varint(), r.Varint()
	t.compact = max(int(r.Varint()), t.minCompact)
	for c, d := range t.keys.cols {
		t.keys.cols[c] = readDict(r, d.phys)
	}
	if nc := len(t.keys.cols); nc > 1 {
		n := r.Count(nc)
		for range n {
			t.keys.buf = t.keys.buf[:0]
			for c := range nc {
				id := r.Uvarint()
				if id >= uint64(t.keys.cols[c].n) {
					r.Fail("key tuple")
				}
				t.keys.buf = binary.LittleEndian.AppendUint32(t.keys.buf, uint32(id))
			}
			if _, dup := t.keys.tuples[string(t.keys.buf)]; dup {
				r.Fail("duplicate key tuple")
			}
			if r.Err() != nil {
				return nil, r.Err()
			}
			t.keys.internTuple()
		}
	}
	for a, d := range t.sdicts {
		if d != nil {
			t.sdicts[a] = readDict(r, d.phys)
		}
	}
	nkeys := uint64(t.keys.len())
	nsh := r.Count(2)
	for range nsh {
		name := r.String()
		if _, dup := t.shards[name]; dup || r.Err() != nil {
			r.Fail("duplicate shard")
			return nil, r.Err()
		}
		sh := t.shard(name)
		ns := r.Count(3)
		for range ns {
			kid, first, last := r.Uvarint(), r.Varint(), r.Varint()
			if r.Err() == nil && (kid >= nkeys || first > last) {
				r.Fail("session")
			}
			if r.Err() != nil {
				return nil, r.Err()
			}
			s := t.alloc(sh, uint32(kid), first, last)
			for a := range t.p.aggs {
				ap, m := &t.p.aggs[a], &sh.accs[a]
				if ap.store&storeN != 0 {
					m.n[s] = r.Varint()
				}
				if ap.store&storeI != 0 {
					m.i[s] = r.Varint()
				}
				if ap.store&storeU != 0 {
					m.u[s] = r.Uvarint()
				}
				if ap.store&storeF != 0 {
					m.f[s] = math.Float64frombits(r.Uint64())
				}
				if ap.store&storeT != 0 {
					m.t[s] = r.Varint()
				}
				if t.p.dist[a] {
					if r.Err() == nil && (m.n[s] < 0 || m.n[s] > int64(t.sdicts[a].len())) {
						r.Fail("distinct count")
					}
					if r.Err() != nil {
						return nil, r.Err()
					}
					ids := sh.dv[a][s][:0]
					for range m.n[s] {
						v := r.Uvarint()
						if r.Err() != nil || v >= uint64(t.sdicts[a].len()) || len(ids) > 0 && uint32(v) <= ids[len(ids)-1] {
							r.Fail("distinct value id")
							return nil, r.Err()
						}
						ids = append(ids, uint32(v))
					}
					sh.dv[a][s] = ids
				} else if d := t.sdicts[a]; d != nil && m.n[s] > 0 && (m.i[s] < 0 || m.i[s] >= int64(d.len())) {
					r.Fail("value id")
				}
			}
		}
	}
	if r.Err() == nil && r.Len() != 0 {
		r.Fail("trailing bytes")
	}
	if r.Err() != nil {
		return nil, r.Err()
	}
	return t, nil
}
