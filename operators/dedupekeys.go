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
// too, so that a hash collision is resolved exactly (the second key of a hash
// goes to more), and the maps hold no pointers for the garbage collector to
// scan. Time is cut into buckets of an eighth of the ttl: each key's hash is
// filed in the bucket of its event time and its bytes go into that bucket's
// arena. Once the clock minus ttl has passed a bucket's end, its keys are
// dropped and its arena is reused whole: expiry scans no other key and
// nothing is ever compacted. Live buckets span at most ttl + two widths of
// time, which dedupeSlots arenas cover, because expire runs as soon as the
// clock passes the oldest bucket (see advance).
//
// Which rows are duplicates depends only on the rows seen, never on when
// expiry ran: a key whose time is below the clock minus ttl is dead for see
// and snapshot even while it is still in memory.
type dedupeKeys struct {
	ttl   int64 // in the event-time column's unit
	width int64 // of a bucket: ttl/8 rounded up, so that ttl spans at most 8 buckets
	hash  func([]byte) uint64
	clock int64 // the highest event time seen; math.MinInt64 before the first

	m    map[uint64]dedupeEntry
	more map[uint64][]dedupeEntry // further keys of a hash that m holds (collisions)
	len  int                      // keys held, dead ones not yet dropped included

	buckets   map[int64][]uint64 // by floor(t/width): the hashes of keys remembered with a time in it
	minBucket int64              // no bucket below it; math.MaxInt64 when there is none
	expireAt  int64              // the clock at which the bucket minBucket is past
	free      [][]uint64         // emptied buckets, for reuse
	arenas    [dedupeSlots][]byte
	spare     [][]byte // emptied arenas, for reuse by the next buckets
}

// dedupeSlots is the number of arenas, one per live bucket: more than the 11
// buckets that ttl plus two widths can touch.
const dedupeSlots = 16

type dedupeEntry struct {
	t   int64  // event time of the row that put the key here
	off uint32 // the key is k.arenas[k.slot(t)][off : off+n]
	n   uint32
}

func newDedupeKeys(ttl int64, hash func([]byte) uint64) *dedupeKeys {
	k := &dedupeKeys{ttl: ttl, width: (ttl + 7) / 8, hash: hash}
	k.reset()
	return k
}

func (k *dedupeKeys) reset() {
	k.clock = math.MinInt64
	k.m, k.more, k.buckets = map[uint64]dedupeEntry{}, map[uint64][]dedupeEntry{}, map[int64][]uint64{}
	k.len, k.minBucket, k.expireAt, k.free = 0, math.MaxInt64, math.MaxInt64, nil
	for i := range k.arenas {
		k.freeArena(i)
	}
}

// limit is the oldest event time a live key may have: the clock minus ttl.
func (k *dedupeKeys) limit() int64 {
	if k.clock < math.MinInt64+k.ttl {
		return math.MinInt64
	}
	return k.clock - k.ttl
}

func (k *dedupeKeys) slot(t int64) int {
	return int(uint64(floorDiv(t, k.width)) % dedupeSlots)
}

func (k *dedupeKeys) bytes(e dedupeEntry) []byte {
	return k.arenas[k.slot(e.t)][e.off : e.off+e.n]
}

// advance moves the clock to t if t is later, and expires the buckets it
// has passed.
func (k *dedupeKeys) advance(t int64) {
	if t <= k.clock {
		return
	}
	k.clock = t
	if t >= k.expireAt {
		k.expire()
	}
}

// see reports whether the row of key at t is kept (after advance): true
// unless key is live, in which case the row is a duplicate. A kept row's key
// is remembered unless t is already dead.
func (k *dedupeKeys) see(key []byte, t int64) (bool, error) {
	k.advance(t)
	lim := k.limit()
	h := k.hash(key)
	e, taken := k.m[h]
	if taken {
		if bytes.Equal(k.bytes(e), key) {
			if e.t >= lim {
				return false, nil
			}
			if t >= lim {
				e, err := k.store(key, t)
				if err != nil {
					return false, err
				}
				k.m[h] = e
				k.file(h, t)
			}
			return true, nil
		}
		more := k.more[h]
		for i := range more {
			if bytes.Equal(k.bytes(more[i]), key) {
				if more[i].t >= lim {
					return false, nil
				}
				if t >= lim {
					e, err := k.store(key, t)
					if err != nil {
						return false, err
					}
					more[i] = e
					k.file(h, t)
				}
				return true, nil
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

// store copies key into the arena of t's bucket.
func (k *dedupeKeys) store(key []byte, t int64) (dedupeEntry, error) {
	a := &k.arenas[k.slot(t)]
	if *a == nil && len(k.spare) > 0 {
		*a, k.spare = k.spare[len(k.spare)-1], k.spare[:len(k.spare)-1]
	}
	if len(*a)+len(key) > math.MaxUint32 {
		return dedupeEntry{}, errors.New("the keys of an eighth of the ttl take more than 4 GiB: shorten the ttl")
	}
	e := dedupeEntry{t: t, off: uint32(len(*a)), n: uint32(len(key))}
	*a = append(*a, key...)
	return e, nil
}

// file puts h in the bucket of t.
func (k *dedupeKeys) file(h uint64, t int64) {
	b := floorDiv(t, k.width)
	hs, ok := k.buckets[b]
	if !ok && len(k.free) > 0 {
		hs, k.free = k.free[len(k.free)-1], k.free[:len(k.free)-1]
	}
	k.buckets[b] = append(hs, h)
	if b < k.minBucket {
		k.setMinBucket(b)
	}
}

// setMinBucket records the oldest bucket and when the clock passes it: at
// (b+1)*width + ttl, when the limit reaches the bucket's end.
func (k *dedupeKeys) setMinBucket(b int64) {
	k.minBucket, k.expireAt = b, math.MaxInt64
	if b == math.MaxInt64 {
		return
	}
	if end, ok := mulAdd(b+1, k.width, k.ttl); ok {
		k.expireAt = end
	}
}

// mulAdd returns a*b+c for b, c > 0, and false when it overflows.
func mulAdd(a, b, c int64) (int64, bool) {
	if a > (math.MaxInt64-c)/b || a < math.MinInt64/b {
		return 0, false
	}
	return a*b + c, true
}

// expire drops the keys of the buckets that the clock minus ttl has passed
// and frees their arenas.
func (k *dedupeKeys) expire() {
	lim := k.limit()
	cut := floorDiv(lim, k.width) // a bucket below cut ends at or before lim
	if lim == math.MinInt64 || k.minBucket >= cut {
		return
	}
	next := int64(math.MaxInt64)
	for b, hs := range k.buckets {
		if b >= cut {
			next = min(next, b)
			continue
		}
		for _, h := range hs {
			k.drop(h, lim)
		}
		delete(k.buckets, b)
		k.free = append(k.free, hs[:0])
		k.freeArena(int(uint64(b) % dedupeSlots))
	}
	k.setMinBucket(next)
}

// freeArena empties the arena of slot i, keeping a few for the next buckets
// so that memory stays at about the live buckets' arenas.
func (k *dedupeKeys) freeArena(i int) {
	if a := k.arenas[i]; a != nil && len(k.spare) < 2 {
		k.spare = append(k.spare, a[:0])
	}
	k.arenas[i] = nil
}

// drop forgets the keys of hash h that are dead.
func (k *dedupeKeys) drop(h uint64, lim int64) {
	if e, ok := k.m[h]; ok && e.t < lim {
		delete(k.m, h)
		k.len--
	}
	more, ok := k.more[h]
	if !ok {
		return
	}
	live := more[:0]
	for _, e := range more {
		if e.t < lim {
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

// keyBytes is the size of the arenas in use.
func (k *dedupeKeys) keyBytes() int {
	n := 0
	for _, a := range k.arenas {
		n += len(a)
	}
	return n
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
// one furthest ahead, and each key at the latest time any of them has (keys
// that clock has left more than ttl behind are dropped).
func (k *dedupeKeys) restore(states [][]byte) error {
	type key struct {
		t   int64
		key []byte
	}
	clock := int64(math.MinInt64)
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
			if t > c {
				return fmt.Errorf("state %d: key %d: time %d after the clock %d", i, j, t, c)
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
		clock = max(clock, c)
		all = append(all, keys)
	}
	k.reset()
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
	var at *dedupeEntry // the entry of key, if there is one
	if taken {
		if bytes.Equal(k.bytes(e), key) {
			at = &e
		} else {
			more := k.more[h]
			for i := range more {
				if bytes.Equal(k.bytes(more[i]), key) {
					at = &more[i]
				}
			}
		}
	}
	if at != nil && at.t >= t {
		return nil
	}
	ne, err := k.store(key, t)
	if err != nil {
		return err
	}
	k.file(h, t)
	switch {
	case at != nil:
		*at = ne
		if at == &e {
			k.m[h] = e
		}
	case taken:
		k.more[h] = append(k.more[h], ne)
		k.len++
	default:
		k.m[h] = ne
		k.len++
	}
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
