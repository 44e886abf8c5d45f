package windows

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// dict interns the values of one column as dense uint32 ids, so that a key or
// a distinct value is hashed and copied once, when it is first seen, and then
// handled as a small integer. Integers (unsigned as their bits, bools as 0
// and 1) live in ints/intVals. Strings live back to back in data and are
// found through strTable, an open-addressing table keyed by a 64-bit hash of
// the bytes: a lookup hashes the bytes straight from the Arrow column and
// compares them with the stored bytes of every candidate of the same hash, so
// that two different strings with the same hash get two ids (the counts stay
// exact whatever the hash). The null value, if seen, has its own id.
type dict struct {
	phys    physType
	strs    strTable
	ints    map[int64]uint32
	intVals []int64
	nullID  int64 // -1 until a null is interned
	n       uint32
}

func newDict(p physType) *dict {
	d := &dict{phys: p, nullID: -1}
	if p.isString() {
		d.strs.init()
	} else {
		d.ints = map[int64]uint32{}
	}
	return d
}

func (d *dict) len() int { return int(d.n) }

// strBytes returns the bytes of string id; the caller must not modify them.
func (d *dict) strBytes(id uint32) []byte { return d.strs.value(id) }

// str returns string id without copying it: the bytes of interned values
// are never written again.
func (d *dict) str(id uint32) string {
	b := d.strs.value(id)
	return unsafe.String(unsafe.SliceData(b), len(b))
}

func (d *dict) internString(s string) uint32 {
	return d.internBytes(unsafe.Slice(unsafe.StringData(s), len(s)))
}

// internBytes returns the id of v, adding a copy of v if it is new.
func (d *dict) internBytes(v []byte) uint32 {
	if id, ok := d.strs.get(v); ok {
		return id
	}
	id := d.n
	d.n++
	d.strs.add(v, id)
	return id
}

func (d *dict) internInt(v int64) uint32 {
	if id, ok := d.ints[v]; ok {
		return id
	}
	id := d.n
	d.n++
	d.ints[v] = id
	d.intVals = append(d.intVals, v)
	return id
}

func (d *dict) internNull() uint32 {
	if d.nullID < 0 {
		d.nullID = int64(d.n)
		d.n++
		// Keep the values indexed by id.
		if d.phys.isString() {
			d.strs.addNull(uint32(d.nullID))
		} else {
			d.intVals = append(d.intVals, 0)
		}
	}
	return uint32(d.nullID)
}

func (d *dict) isNull(id uint32) bool { return int64(id) == d.nullID }

// lookup writes the id of the value at each row i in sel to dst[i]; dst has
// room for every row of arr. Nulls get the null id when nulls is set;
// otherwise their ids are left unspecified.
func (d *dict) lookup(arr arrow.Array, sel []int32, dst []uint32, nulls bool) {
	hasNulls := arr.NullN() > 0
	switch a := arr.(type) {
	case *array.String:
		lookupStrings(d, a, a.ValueOffsets(), sel, dst, hasNulls, nulls)
	case *array.LargeString:
		lookupStrings(d, a, a.ValueOffsets(), sel, dst, hasNulls, nulls)
	case *array.Boolean:
		for _, i := range sel {
			if hasNulls && a.IsNull(int(i)) {
				if nulls {
					dst[i] = d.internNull()
				}
				continue
			}
			v := int64(0)
			if a.Value(int(i)) {
				v = 1
			}
			dst[i] = d.internInt(v)
		}
	default:
		byPhys(d.phys, lookupInts[int8], lookupInts[int16], lookupInts[int32], lookupInts[int64],
			lookupInts[uint8], lookupInts[uint16], lookupInts[uint32], lookupInts[uint64], nil, nil)(d, arr, sel, dst, nulls)
	}
}

// lookupStrings is lookup for a string column: offs are the column's value
// offsets from its first row, into its data buffer.
//
// A small dict looks values up in its map. In a larger one, a batch's values
// are mostly already in the dict, and finding one costs a cache miss for its
// slot and one for its record, in tables much larger than the cache. So the
// rows go through in passes whose iterations do not depend on each other,
// letting the CPU wait for many rows' misses at once: one hashes the rows,
// one reads their home slots, one the records those slots name, and the last
// compares the bytes; only rows whose value was not at home probe further, or
// add a value.
func lookupStrings[O int32 | int64](d *dict, arr arrow.Array, offs []O, sel []int32, dst []uint32, hasNulls, nulls bool) {
	var data []byte
	if bufs := arr.Data().Buffers(); len(bufs) > 2 && bufs[2] != nil {
		data = bufs[2].Bytes()
	}
	t := &d.strs
	for len(sel) > 0 && t.small != nil {
		i := sel[0]
		sel = sel[1:]
		if hasNulls && arr.IsNull(int(i)) {
			if nulls {
				dst[i] = d.internNull()
			}
			continue
		}
		v := data[offs[i]:offs[i+1]]
		id, ok := t.small[string(v)]
		if !ok {
			id = d.n
			d.n++
			t.add(v, id)
		}
		dst[i] = id
	}
	for len(sel) > 0 {
		chunk := sel[:min(len(sel), lookupChunk)]
		sel = sel[len(chunk):]
		var hs [lookupChunk]uint64
		var cand [lookupChunk]uint64
		for k, i := range chunk {
			hs[k] = t.hash(data[offs[i]:offs[i+1]])
		}
		// Tight loops, so that many rows' reads are in flight at once.
		slots, mask := t.slots, t.mask
		for k := range chunk {
			h := hs[k]
			s := slots[h&mask]
			if s != 0 && s&tagBits != h&tagBits {
				s = slots[(h+1)&mask] // often in the same cache line
			}
			if s&tagBits != h&tagBits {
				s = 0
			}
			cand[k] = s // 0, or a used slot that may name row k's value
		}
		var touch uint32
		for _, s := range cand[:len(chunk)] {
			if s != 0 {
				touch += binary.LittleEndian.Uint32(t.data[slotRecord(s)+4:])
			}
		}
		t.touch = touch
		for k, i := range chunk {
			if hasNulls && arr.IsNull(int(i)) {
				if nulls {
					dst[i] = d.internNull()
				}
				continue
			}
			v := data[offs[i]:offs[i+1]]
			if s := cand[k]; s != 0 {
				if id, ok := t.match(slotRecord(s), v); ok {
					dst[i] = id
					continue
				}
			}
			id, ok := t.find(v, hs[k])
			if !ok {
				id = d.n
				d.n++
				t.addHashed(v, hs[k], id)
			}
			dst[i] = id
		}
	}
}

// lookupChunk is how many rows lookupStrings takes through its passes at a
// time: enough for the reads in flight to overlap, few enough that what the
// first passes brought into the cache is still there for the last.
const lookupChunk = 256

func lookupInts[T intValue](d *dict, arr arrow.Array, sel []int32, dst []uint32, nulls bool) {
	vals := values[T](arr)
	hasNulls := arr.NullN() > 0
	for _, i := range sel {
		if hasNulls && arr.IsNull(int(i)) {
			if nulls {
				dst[i] = d.internNull()
			}
			continue
		}
		v := vals[i]
		id, ok := d.ints[int64(v)]
		if !ok {
			id = d.internInt(int64(v))
		}
		dst[i] = id
	}
}

// internFrom interns the value that id has in src and returns its id in d.
func (d *dict) internFrom(src *dict, id uint32) uint32 {
	switch {
	case src.isNull(id):
		return d.internNull()
	case d.phys.isString():
		return d.internBytes(src.strBytes(id))
	default:
		return d.internInt(src.intVals[id])
	}
}

// compare orders ids by their values: null first, then strings bytewise,
// integers numerically (unsigned ones as unsigned), false before true.
func (d *dict) compare(a, b uint32) int {
	if a == b {
		return 0
	}
	an, bn := d.isNull(a), d.isNull(b)
	switch {
	case an:
		return -1
	case bn:
		return 1
	case d.phys.isString():
		return bytes.Compare(d.strBytes(a), d.strBytes(b))
	case d.phys.isUint():
		return cmp.Compare(uint64(d.intVals[a]), uint64(d.intVals[b]))
	default:
		return cmp.Compare(d.intVals[a], d.intVals[b])
	}
}

// appendValue appends the value of id to a builder of the dict's column type.
func (d *dict) appendValue(b array.Builder, id uint32) {
	if d.isNull(id) {
		b.AppendNull()
		return
	}
	switch b := b.(type) {
	case *array.StringBuilder:
		b.BinaryBuilder.Append(d.strBytes(id))
	case *array.LargeStringBuilder:
		b.BinaryBuilder.Append(d.strBytes(id))
	case *array.BooleanBuilder:
		b.Append(d.intVals[id] != 0)
	case *array.Int8Builder:
		b.Append(int8(d.intVals[id]))
	case *array.Int16Builder:
		b.Append(int16(d.intVals[id]))
	case *array.Int32Builder:
		b.Append(int32(d.intVals[id]))
	case *array.Int64Builder:
		b.Append(d.intVals[id])
	case *array.Uint8Builder:
		b.Append(uint8(d.intVals[id]))
	case *array.Uint16Builder:
		b.Append(uint16(d.intVals[id]))
	case *array.Uint32Builder:
		b.Append(uint32(d.intVals[id]))
	case *array.Uint64Builder:
		b.Append(uint64(d.intVals[id]))
	}
}

// keyTable interns the key tuples of a window stage as dense key ids. With one
// key column the key id is that column's dict id; with several, the tuple of
// column ids is interned again; with none, every row has key id 0.
type keyTable struct {
	cols   []*dict
	tuples map[string]uint32
	ids    []uint32 // flat: len(cols) column ids per key id, for several columns
	buf    []byte
	colIDs [][]uint32 // per column scratch
}

func newKeyTable(phys []physType) *keyTable {
	k := &keyTable{}
	for _, p := range phys {
		k.cols = append(k.cols, newDict(p))
	}
	if len(phys) > 1 {
		k.tuples = map[string]uint32{}
		k.colIDs = make([][]uint32, len(phys))
	}
	return k
}

// len is the number of key ids handed out.
func (k *keyTable) len() int {
	switch len(k.cols) {
	case 0:
		return 1
	case 1:
		return k.cols[0].len()
	}
	return len(k.ids) / len(k.cols)
}

// colID is the id in column c's dict of key id kid.
func (k *keyTable) colID(kid uint32, c int) uint32 {
	if len(k.cols) == 1 {
		return kid
	}
	return k.ids[int(kid)*len(k.cols)+c]
}

// lookup writes the key id of each row i in sel to dst[i]; dst has room for
// every row of rec.
func (k *keyTable) lookup(rec arrow.RecordBatch, cols []int, sel []int32, dst []uint32) {
	n := int(rec.NumRows())
	switch len(k.cols) {
	case 0:
		clear(dst[:n])
		return
	case 1:
		k.cols[0].lookup(rec.Column(cols[0]), sel, dst, true)
		return
	}
	for c, d := range k.cols {
		if cap(k.colIDs[c]) < n {
			k.colIDs[c] = make([]uint32, n)
		}
		k.colIDs[c] = k.colIDs[c][:n]
		d.lookup(rec.Column(cols[c]), sel, k.colIDs[c], true)
	}
	for _, i := range sel {
		k.buf = k.buf[:0]
		for c := range k.cols {
			k.buf = binary.LittleEndian.AppendUint32(k.buf, k.colIDs[c][i])
		}
		id, ok := k.tuples[string(k.buf)]
		if !ok {
			id = k.internTuple()
		}
		dst[i] = id
	}
}

// internTuple adds the tuple in k.buf.
func (k *keyTable) internTuple() uint32 {
	id := uint32(k.len())
	k.tuples[string(k.buf)] = id
	for c := range k.cols {
		k.ids = append(k.ids, binary.LittleEndian.Uint32(k.buf[4*c:]))
	}
	return id
}

// internFrom interns key id kid of src and returns its id in k.
func (k *keyTable) internFrom(src *keyTable, kid uint32) uint32 {
	switch len(k.cols) {
	case 0:
		return 0
	case 1:
		return k.cols[0].internFrom(src.cols[0], kid)
	}
	k.buf = k.buf[:0]
	for c, d := range k.cols {
		k.buf = binary.LittleEndian.AppendUint32(k.buf, d.internFrom(src.cols[c], src.colID(kid, c)))
	}
	if id, ok := k.tuples[string(k.buf)]; ok {
		return id
	}
	return k.internTuple()
}

// compare orders key ids by their columns' values, in key order.
func (k *keyTable) compare(a, b uint32) int {
	for c, d := range k.cols {
		if r := d.compare(k.colID(a, c), k.colID(b, c)); r != 0 {
			return r
		}
	}
	return 0
}
