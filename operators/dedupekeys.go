package operators

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// dedupeKeys is the set of keys one shard's Dedupe remembers, each with the
// event time of the row that put it there.
//
// A key is found by a 64-bit hash of its bytes; the bytes themselves are kept
// in one arena, so that a hash collision is resolved exactly (the second key
// of a hash goes to more) and the maps hold no pointers for the garbage
// collector to scan. Expiry needs no scan of the keys: each key's hash is also
// filed in the bucket of its event time (an eighth of the ttl wide), and once
// the clock minus ttl has passed a bucket's end, the keys of that bucket are
// checked and the dead ones dropped.
//
// Which rows are duplicates depends only on the rows seen, never on when
// expiry ran: a key whose time is below the clock minus ttl is dead for see
// and snapshot even while it is still in memory.
type dedupeKeys struct {
	ttl   int64 // in the event-time column's unit
	width int64 // of an expiry bucket: ttl/8, at least 1
	hash  func([]byte) uint64
	clock int64 // the highest event time seen; math.MinInt64 before the first

	m     map[uint64]dedupeEntry
	more  map[uint64][]dedupeEntry // further keys of a hash that m holds (collisions)
	arena []byte
	dead  int // bytes of arena that no entry refers to
	len   int // keys held, dead ones not yet dropped included

	buckets   map[int64][]uint64 // by floor(t/width): the hashes of keys remembered with a time in it
	minBucket int64              // no bucket below it; math.MaxInt64 when there is none
	free      [][]uint64         // emptied buckets, for reuse
}

type dedupeEntry struct {
	t   int64  // event time of the row that put the key here
	off uint32 // the key is arena[off : off+n]
	n   uint32
}

func newDedupeKeys(ttl int64, hash func([]byte) uint64) *dedupeKeys {
	k := &dedupeKeys{ttl: ttl, width: max(ttl/8, 1), hash: hash}
	k.reset()
	return k
}

func (k *dedupeKeys) reset() {
	k.clock = math.MinInt64
	k.m, k.more, k.buckets = map[uint64]dedupeEntry{}, map[uint64][]dedupeEntry{}, map[int64][]uint64{}
	k.arena, k.dead, k.len, k.minBucket, k.free = k.arena[:0], 0, 0, math.MaxInt64, nil
}

// limit is the oldest event time a live key may have: the clock minus ttl.
func (k *dedupeKeys) limit() int64 {
	if k.clock < math.MinInt64+k.ttl {
		return math.MinInt64
	}
	return k.clock - k.ttl
}

func (k *dedupeKeys) bytes(e dedupeEntry) []byte { return k.arena[e.off : e.off+e.n] }

// see moves the clock to t and reports whether the row of key at t is kept:
// true unless key is live, in which case the row is a duplicate. A kept row's
// key is remembered unless t is already dead.
func (k *dedupeKeys) see(key []byte, t int64) (bool, error) {
	if t > k.clock {
		k.clock = t
	}
	lim := k.limit()
	h := k.hash(key)
	e, taken := k.m[h]
	if taken {
		if bytes.Equal(k.bytes(e), key) {
			keep := k.refresh(h, &e, t, lim)
			k.m[h] = e
			return keep, nil
		}
		more := k.more[h]
		for i := range more {
			if bytes.Equal(k.bytes(more[i]), key) {
				return k.refresh(h, &more[i], t, lim), nil
			}
		}
	}
	if t < lim {
		return true, nil
	}
	e, err := k.store(key, t)
	if err != nil {
		return false, err
	}
	if taken {
		k.more[h] = append(k.more[h], e)
	} else {
		k.m[h] = e
	}
	k.len++
	k.file(h, t)
	return true, nil
}

// refresh handles a row at t whose key e holds: a duplicate if e is live,
// else kept, and e takes t unless t is dead too.
func (k *dedupeKeys) refresh(h uint64, e *dedupeEntry, t, lim int64) bool {
	switch {
	case e.t >= lim:
		return false
	case t >= lim:
		e.t = t
		k.file(h, t)
	}
	return true
}

func (k *dedupeKeys) store(key []byte, t int64) (dedupeEntry, error) {
	if len(k.arena)+len(key) > math.MaxUint32 {
		k.compact()
		if len(k.arena)+len(key) > math.MaxUint32 {
			return dedupeEntry{}, errors.New("the keys within the ttl take more than 4 GiB: shorten the ttl")
		}
	}
	e := dedupeEntry{t: t, off: uint32(len(k.arena)), n: uint32(len(key))}
	k.arena = append(k.arena, key...)
	return e, nil
}

// file puts h in the expiry bucket of t.
func (k *dedupeKeys) file(h uint64, t int64) {
	b := floorDiv(t, k.width)
	hs, ok := k.buckets[b]
	if !ok && len(k.free) > 0 {
		hs, k.free = k.free[len(k.free)-1], k.free[:len(k.free)-1]
	}
	k.buckets[b] = append(hs, h)
	k.minBucket = min(k.minBucket, b)
}

// expire drops the keys of the buckets that the clock minus ttl has passed,
// and compacts the arena once most of it is dead.
func (k *dedupeKeys) expire() {
	lim := k.limit()
	cut := floorDiv(lim, k.width) // a bucket below cut ends at or before lim
	if lim == math.MinInt64 || k.minBucket >= cut {
		return
	}
	k.minBucket = math.MaxInt64
	for b, hs := range k.buckets {
		if b >= cut {
			k.minBucket = min(k.minBucket, b)
			continue
		}
		for _, h := range hs {
			k.drop(h, lim)
		}
		delete(k.buckets, b)
		k.free = append(k.free, hs[:0])
	}
	if k.dead > 64<<10 && 2*k.dead > len(k.arena) {
		k.compact()
	}
}

// drop forgets the keys of hash h that are dead.
func (k *dedupeKeys) drop(h uint64, lim int64) {
	if e, ok := k.m[h]; ok && e.t < lim {
		delete(k.m, h)
		k.dead += int(e.n)
		k.len--
	}
	more, ok := k.more[h]
	if !ok {
		return
	}
	live := more[:0]
	for _, e := range more {
		if e.t < lim {
			k.dead += int(e.n)
			k.len--
			continue
		}
		live = append(live, e)
	}
	if _, ok := k.m[h]; !ok && len(live) > 0 {
		k.m[h], live = live[0], live[1:]
	}
	if len(live) == 0 {
		delete(k.more, h)
	} else {
		k.more[h] = live
	}
}

// compact copies the keys still held into a new arena.
func (k *dedupeKeys) compact() {
	arena := make([]byte, 0, (len(k.arena)-k.dead)+(len(k.arena)-k.dead)/4)
	for h, e := range k.m {
		arena = append(arena, k.bytes(e)...)
		e.off = uint32(len(arena) - int(e.n))
		k.m[h] = e
	}
	for _, more := range k.more {
		for i, e := range more {
			arena = append(arena, k.bytes(e)...)
			more[i].off = uint32(len(arena) - int(e.n))
		}
	}
	k.arena, k.dead = arena, 0
}

// The snapshot: a version byte (1), the clock (varint), the number of live
// keys (uvarint), then per key its event time (varint) and its bytes
// (uvarint length, bytes), in no particular order.
const dedupeStateVersion = 1

func (k *dedupeKeys) snapshot() []byte {
	lim := k.limit()
	n, size := 0, 0
	k.each(func(e dedupeEntry) {
		if e.t >= lim {
			n++
			size += int(e.n)
		}
	})
	buf := make([]byte, 0, 1+2*binary.MaxVarintLen64+n*(binary.MaxVarintLen64+binary.MaxVarintLen32)+size)
	buf = append(buf, dedupeStateVersion)
	buf = binary.AppendVarint(buf, k.clock)
	buf = binary.AppendUvarint(buf, uint64(n))
	k.each(func(e dedupeEntry) {
		if e.t >= lim {
			buf = binary.AppendVarint(buf, e.t)
			buf = binary.AppendUvarint(buf, uint64(e.n))
			buf = append(buf, k.bytes(e)...)
		}
	})
	return buf
}

func (k *dedupeKeys) each(f func(dedupeEntry)) {
	for _, e := range k.m {
		f(e)
	}
	for _, more := range k.more {
		for _, e := range more {
			f(e)
		}
	}
}

// restore replaces the keys with the union of snapshots: the clock of the
// one furthest behind, and each key at the latest time any of them has.
func (k *dedupeKeys) restore(states [][]byte) error {
	type key struct {
		t   int64
		key []byte
	}
	clock := int64(math.MaxInt64)
	var all [][]key
	for i, st := range states {
		if len(st) == 0 || st[0] != dedupeStateVersion {
			return fmt.Errorf("state %d: not a dedupe state of version %d", i, dedupeStateVersion)
		}
		r := st[1:]
		c, w := binary.Varint(r)
		if w <= 0 {
			return fmt.Errorf("state %d: bad clock", i)
		}
		r = r[w:]
		n, w := binary.Uvarint(r)
		if w <= 0 || n > uint64(len(r)) {
			return fmt.Errorf("state %d: bad key count", i)
		}
		r = r[w:]
		keys := make([]key, 0, n)
		for j := uint64(0); j < n; j++ {
			t, w := binary.Varint(r)
			if w <= 0 {
				return fmt.Errorf("state %d: key %d: bad time", i, j)
			}
			r = r[w:]
			l, w := binary.Uvarint(r)
			if w <= 0 || l > uint64(len(r)-w) {
				return fmt.Errorf("state %d: key %d: bad length", i, j)
			}
			keys = append(keys, key{t, r[w : w+int(l)]})
			r = r[w+int(l):]
		}
		if len(r) != 0 {
			return fmt.Errorf("state %d: %d bytes after the last key", i, len(r))
		}
		clock = min(clock, c)
		all = append(all, keys)
	}
	k.reset()
	if clock == math.MaxInt64 {
		return nil
	}
	k.clock = clock
	lim := k.limit()
	for _, keys := range all {
		for _, kk := range keys {
			if kk.t < lim {
				continue
			}
			if err := k.put(kk.key, kk.t); err != nil {
				return err
			}
		}
	}
	return nil
}

// put remembers key at t, or at the later of t and the time it has.
func (k *dedupeKeys) put(key []byte, t int64) error {
	h := k.hash(key)
	e, taken := k.m[h]
	if taken {
		if bytes.Equal(k.bytes(e), key) {
			if t > e.t {
				e.t = t
				k.m[h] = e
				k.file(h, t)
			}
			return nil
		}
		more := k.more[h]
		for i := range more {
			if bytes.Equal(k.bytes(more[i]), key) {
				if t > more[i].t {
					more[i].t = t
					k.file(h, t)
				}
				return nil
			}
		}
	}
	e, err := k.store(key, t)
	if err != nil {
		return err
	}
	if taken {
		k.more[h] = append(k.more[h], e)
	} else {
		k.m[h] = e
	}
	k.len++
	k.file(h, t)
	return nil
}

// floorDiv is a/b rounded towards minus infinity, for b > 0.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}
