package windows

import (
	"cmp"
	"encoding/binary"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// dict interns the values of one column as dense uint32 ids, so that a key or
// a distinct value is hashed and copied once, when it is first seen, and then
// handled as a small integer. Strings live in strs/strVals, integers (unsigned
// as their bits, bools as 0 and 1) in ints/intVals. The null value, if seen,
// has its own id.
type dict struct {
	phys    physType
	strs    map[string]uint32
	strVals []string
	ints    map[int64]uint32
	intVals []int64
	nullID  int64 // -1 until a null is interned
	n       uint32
}

func newDict(p physType) *dict {
	d := &dict{phys: p, nullID: -1}
	if p.isString() {
		d.strs = map[string]uint32{}
	} else {
		d.ints = map[int64]uint32{}
	}
	return d
}

func (d *dict) len() int { return int(d.n) }

func (d *dict) internString(s string) uint32 {
	if id, ok := d.strs[s]; ok {
		return id
	}
	id := d.n
	d.n++
	s = strings.Clone(s)
	d.strs[s] = id
	d.strVals = append(d.strVals, s)
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
		// Keep the value slices indexed by id.
		if d.phys.isString() {
			d.strVals = append(d.strVals, "")
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
		for _, i := range sel {
			if hasNulls && a.IsNull(int(i)) {
				if nulls {
					dst[i] = d.internNull()
				}
				continue
			}
			s := a.Value(int(i))
			id, ok := d.strs[s]
			if !ok {
				id = d.internString(s)
			}
			dst[i] = id
		}
	case *array.LargeString:
		for _, i := range sel {
			if hasNulls && a.IsNull(int(i)) {
				if nulls {
					dst[i] = d.internNull()
				}
				continue
			}
			dst[i] = d.internString(a.Value(int(i)))
		}
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
		return d.internString(src.strVals[id])
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
		return strings.Compare(d.strVals[a], d.strVals[b])
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
		b.Append(d.strVals[id])
	case *array.LargeStringBuilder:
		b.Append(d.strVals[id])
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
