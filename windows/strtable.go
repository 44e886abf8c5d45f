package windows

import (
	"encoding/binary"
	"hash/maphash"
)

// testStringHash, when a test sets it, replaces the 64-bit hash of the values
// of the string dicts made after, with one that collides, to check that
// counts stay exact.
var testStringHash func([]byte) uint64

// hashSeed seeds the hash of every string dict of the process, as Go's maps
// are seeded: values chosen to collide are not known in advance.
var hashSeed = maphash.MakeSeed()

func stringHash(b []byte) uint64 { return maphash.Bytes(hashSeed, b) }

// maxSmallStrs is how many values a string dict keeps in a Go map before it
// moves them to its hash table. While a dict is small enough for the cache
// (the keys of a stage, mostly) the map is as fast as anything; the table
// wins once lookups miss the cache. Tests lower it.
var maxSmallStrs = 1024

// strTable maps the string values of a dict to their ids: through a Go map
// while there are at most maxSmallStrs of them, then through its own table.
//
// The values are stored in data as records, in id order, each 8-byte
// aligned: the id (4 bytes), the length (4 bytes), the bytes. offs holds
// each id's record offset. slots is an open-addressing table with linear
// probing: a free slot is 0, a used one holds the high 24 bits of the value's
// hash (tagBits) and its record offset / 8 + 1 in the low 40 bits (up to 8 TiB
// of records). A lookup compares the bytes of every record whose hash bits
// match, so values are told apart by their bytes, never by their hash; and it
// reads a slot and then one record, whose id, length and (short) bytes share
// a cache line. A value is at most 4 GiB long (Arrow's String offsets are
// 32-bit; a LargeString value beyond that is not supported).
type strTable struct {
	test  func([]byte) uint64 // the hash, if not stringHash
	small map[string]uint32   // value to id while the dict is small, then nil
	limit int                 // of small
	slots []uint64
	mask  uint64
	used  int
	data  []byte
	offs  []int

	touch uint32 // keeps the reads of lookupStrings' pass over the records
}

const (
	minStrSlots = 64
	tagBits     = uint64(0xffff_ff00_0000_0000)
)

func (t *strTable) init() {
	t.test = testStringHash
	t.limit = maxSmallStrs
	t.small = map[string]uint32{}
}

func (t *strTable) hash(v []byte) uint64 {
	if t.test != nil {
		return t.test(v)
	}
	return stringHash(v)
}

// value returns the bytes of id, which the caller must not modify.
func (t *strTable) value(id uint32) []byte { return t.record(t.offs[id]) }

// record returns the bytes of the record at off.
func (t *strTable) record(off int) []byte {
	n := int(binary.LittleEndian.Uint32(t.data[off+4:]))
	return t.data[off+8 : off+8+n : off+8+n]
}

// find returns the id of v, whose hash is h.
func (t *strTable) find(v []byte, h uint64) (uint32, bool) {
	tag := h & tagBits
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		s := t.slots[i]
		if s == 0 {
			return 0, false
		}
		if s&tagBits == tag {
			if id, ok := t.match(slotRecord(s), v); ok {
				return id, true
			}
		}
	}
}

// match returns the id of the record at off if its bytes are v.
func (t *strTable) match(off int, v []byte) (uint32, bool) {
	hdr := binary.LittleEndian.Uint64(t.data[off:])
	if n := int(hdr >> 32); n != len(v) || string(t.data[off+8:off+8+n]) != string(v) {
		return 0, false
	}
	return uint32(hdr), true
}

// get returns the id of v.
func (t *strTable) get(v []byte) (uint32, bool) {
	if t.small != nil {
		id, ok := t.small[string(v)]
		return id, ok
	}
	return t.find(v, t.hash(v))
}

// add stores a copy of v, which is not in t, as value id, the next id (the
// number of values and nulls before it).
func (t *strTable) add(v []byte, id uint32) {
	off := t.appendRecord(v, id)
	switch {
	case t.small == nil:
		t.insert(t.hash(v), off)
	case len(t.small) < t.limit:
		t.small[string(v)] = id
	default:
		t.leaveSmall()
		t.insert(t.hash(v), off)
	}
}

// addHashed is add for a table past its map, given v's hash h.
func (t *strTable) addHashed(v []byte, h uint64, id uint32) {
	t.insert(h, t.appendRecord(v, id))
}

// leaveSmall moves the values of the map to the table.
func (t *strTable) leaveSmall() {
	n := minStrSlots
	for (len(t.small)+1)*4 > n*3 {
		n *= 2
	}
	t.slots = make([]uint64, n)
	t.mask = uint64(n - 1)
	for s, id := range t.small {
		t.put(t.hash([]byte(s)), t.offs[id])
	}
	t.used = len(t.small)
	t.small = nil
}

// insert adds the record at off, whose value has hash h, to the table.
func (t *strTable) insert(h uint64, off int) {
	// At most 3/4 full: most values still sit in their home slot or the
	// next, which lookupStrings reads first.
	if (t.used+1)*4 > len(t.slots)*3 {
		t.grow()
	}
	t.put(h, off)
	t.used++
}

// addNull gives the null id an empty record, outside the slots.
func (t *strTable) addNull(id uint32) { t.appendRecord(nil, id) }

func (t *strTable) appendRecord(v []byte, id uint32) int {
	off := len(t.data)
	t.data = binary.LittleEndian.AppendUint32(t.data, id)
	t.data = binary.LittleEndian.AppendUint32(t.data, uint32(len(v)))
	t.data = append(t.data, v...)
	for len(t.data)%8 != 0 {
		t.data = append(t.data, 0)
	}
	t.offs = append(t.offs, off)
	return off
}

func (t *strTable) put(h uint64, off int) {
	i := h & t.mask
	for t.slots[i] != 0 {
		i = (i + 1) & t.mask
	}
	t.slots[i] = h&tagBits | uint64(off/8+1)
}

// slotRecord is the record offset of used slot s.
func slotRecord(s uint64) int { return int(s&^tagBits-1) * 8 }

// grow doubles the slots, rehashing the values from their bytes.
func (t *strTable) grow() {
	old := t.slots
	n := len(old) * 2
	t.slots = make([]uint64, n)
	t.mask = uint64(n - 1)
	for _, s := range old {
		if s != 0 {
			off := slotRecord(s)
			t.put(t.hash(t.record(off)), off)
		}
	}
}
