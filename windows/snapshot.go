package windows

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
)

// Snapshot format, version 1. All integers are varints (signed) or uvarints
// (counts, ids); floats are 8 bytes little-endian; strings are a uvarint
// length and the bytes.
//
//	magic "SFWN", version byte
//	stage name (a snapshot restores only into the same stage)
//	watermark, rows_in, late_rows, null_time_rows, windows_fired, compact
//	key dicts (one per key column), then key tuples when there are several
//	value dicts of the CountDistinct aggregates, in aggregate order
//	shards, sorted by name: name, windows sorted by start:
//	  start, end, groups: key id, then every non-distinct aggregate's partial
//	  then per CountDistinct aggregate: entries (group index, value id)
//	CRC-32C of everything before it, 4 bytes little-endian
//
// Dicts hold phys, size, null id (-1 for none) and the values by id.
const (
	snapMagic   = "SFWN"
	snapVersion = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorruptSnapshot is returned by Restore for state it cannot decode.
var ErrCorruptSnapshot = errors.New("windows: corrupt snapshot")

// Snapshot implements pipeline.KeyedOperator.
func (o *Operator) Snapshot() ([]byte, error) {
	b := make([]byte, 0, 1024)
	b = append(b, snapMagic...)
	b = append(b, snapVersion)
	b = appendString(b, o.p.name)
	b = binary.AppendVarint(b, o.wm)
	for _, v := range []int64{o.rowsIn, o.lateRows, o.nullTimeRows, o.windowsFired, int64(o.compact)} {
		b = binary.AppendVarint(b, v)
	}
	for _, d := range o.keys.cols {
		b = appendDict(b, d)
	}
	if len(o.keys.cols) > 1 {
		b = binary.AppendUvarint(b, uint64(o.keys.len()))
		for _, id := range o.keys.ids {
			b = binary.AppendUvarint(b, uint64(id))
		}
	}
	for _, d := range o.vdicts {
		if d != nil {
			b = appendDict(b, d)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(o.byName)))
	for _, sh := range o.byName {
		b = appendString(b, sh.name)
		starts := make([]int64, 0, len(sh.windows))
		for st := range sh.windows {
			starts = append(starts, st)
		}
		slices.Sort(starts)
		b = binary.AppendUvarint(b, uint64(len(starts)))
		for _, st := range starts {
			b = o.appendWindow(b, sh, sh.windows[st])
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

func (o *Operator) appendWindow(b []byte, sh *shardState, ws *winState) []byte {
	b = binary.AppendVarint(b, ws.start)
	b = binary.AppendVarint(b, ws.end)
	b = binary.AppendUvarint(b, uint64(len(ws.keys)))
	for g, kid := range ws.keys {
		s := ws.gslots[g]
		b = binary.AppendUvarint(b, uint64(kid))
		for a := range o.p.aggs {
			ap := &o.p.aggs[a]
			if ap.kind == kindCountDistinct {
				continue
			}
			m := &sh.accs[a]
			if ap.store&storeN != 0 {
				b = binary.AppendVarint(b, m.n[s])
			}
			if ap.store&storeI != 0 {
				b = binary.AppendVarint(b, m.i[s])
			}
			if ap.store&storeU != 0 {
				b = binary.AppendUvarint(b, m.u[s])
			}
			if ap.store&storeF != 0 {
				b = binary.LittleEndian.AppendUint64(b, math.Float64bits(m.f[s]))
			}
		}
	}
	if len(o.slotMap) < int(sh.nslots) {
		o.slotMap = make([]int32, sh.nslots)
	}
	for g, s := range ws.gslots {
		o.slotMap[s] = int32(g)
	}
	for a := range o.p.aggs {
		if o.vdicts[a] == nil {
			continue
		}
		var total int64
		for _, s := range ws.gslots {
			total += sh.accs[a].n[s]
		}
		b = binary.AppendUvarint(b, uint64(total))
		ws.dsets[a].each(&sh.accs[a], ws, func(s int32, v uint32) {
			b = binary.AppendUvarint(b, uint64(o.slotMap[s]))
			b = binary.AppendUvarint(b, uint64(v))
		})
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendDict(b []byte, d *dict) []byte {
	b = append(b, byte(d.phys))
	b = binary.AppendUvarint(b, uint64(d.n))
	b = binary.AppendVarint(b, d.nullID)
	for id := range d.n {
		switch {
		case d.isNull(id):
		case d.phys.isString():
			b = appendString(b, d.strVals[id])
		default:
			b = binary.AppendVarint(b, d.intVals[id])
		}
	}
	return b
}

// Restore implements pipeline.KeyedOperator: it replaces the operator's state
// with one returned by Snapshot of the same stage. On error the state is left
// as it was.
func (o *Operator) Restore(state []byte) error {
	if len(state) < len(snapMagic)+1+4 || string(state[:len(snapMagic)]) != snapMagic {
		return fmt.Errorf("%w: bad header", ErrCorruptSnapshot)
	}
	if v := state[len(snapMagic)]; v != snapVersion {
		return fmt.Errorf("windows: snapshot version %d, want %d", v, snapVersion)
	}
	body, sum := state[:len(state)-4], binary.LittleEndian.Uint32(state[len(state)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return fmt.Errorf("%w: checksum mismatch", ErrCorruptSnapshot)
	}
	r := &reader{b: body[len(snapMagic)+1:]}
	if name := r.str(); r.err == nil && name != o.p.name {
		return fmt.Errorf("windows: snapshot of stage %q cannot restore stage %q", name, o.p.name)
	}
	o.unregister()
	t := o.temp(o.firings)
	if err := t.decode(r); err != nil {
		t.unregister()
		o.reregister()
		return err
	}
	o.adopt(t)
	return nil
}

func (o *Operator) decode(r *reader) error {
	o.wm = r.varint()
	o.rowsIn, o.lateRows, o.nullTimeRows, o.windowsFired = r.varint(), r.varint(), r.varint(), r.varint()
	o.compact = max(int(r.varint()), o.minCompact)
	for c, d := range o.keys.cols {
		o.keys.cols[c] = r.dict(d.phys)
	}
	if nc := len(o.keys.cols); nc > 1 {
		n := r.count(nc)
		for range n {
			o.keys.buf = o.keys.buf[:0]
			for c := range nc {
				id := r.uvarint()
				if id >= uint64(o.keys.cols[c].n) {
					r.fail("key tuple")
				}
				o.keys.buf = binary.LittleEndian.AppendUint32(o.keys.buf, uint32(id))
			}
			if _, dup := o.keys.tuples[string(o.keys.buf)]; dup {
				r.fail("duplicate key tuple")
			}
			if r.err != nil {
				return r.err
			}
			o.keys.internTuple()
		}
	}
	for a, d := range o.vdicts {
		if d != nil {
			o.vdicts[a] = r.dict(d.phys)
		}
	}
	nsh := r.count(2)
	for range nsh {
		name := r.str()
		if _, dup := o.shards[name]; dup || r.err != nil {
			r.fail("duplicate shard")
			return r.err
		}
		sh := o.shard(name)
		nw := r.count(3)
		for range nw {
			if err := o.decodeWindow(r, sh); err != nil {
				return err
			}
		}
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("trailing bytes")
	}
	return r.err
}

func (o *Operator) decodeWindow(r *reader, sh *shardState) error {
	start, end := r.varint(), r.varint()
	if r.err == nil && (end != windowEnd(start, o.p.size) || sh.windows[start] != nil) {
		r.fail("window bounds")
	}
	if r.err != nil {
		return r.err
	}
	ws := o.window(sh, start, end)
	ng := r.count(1)
	nkeys := uint64(o.keys.len())
	for range ng {
		kid := r.uvarint()
		if r.err != nil || kid >= nkeys {
			r.fail("group key")
			return r.err
		}
		if _, dup := ws.slots[uint32(kid)]; dup {
			r.fail("duplicate group key")
			return r.err
		}
		s := o.newGroup(sh, ws, uint32(kid))
		for a := range o.p.aggs {
			ap := &o.p.aggs[a]
			if ap.kind == kindCountDistinct {
				continue
			}
			m := &sh.accs[a]
			if ap.store&storeN != 0 {
				m.n[s] = r.varint()
			}
			if ap.store&storeI != 0 {
				m.i[s] = r.varint()
			}
			if ap.store&storeU != 0 {
				m.u[s] = r.uvarint()
			}
			if ap.store&storeF != 0 {
				m.f[s] = math.Float64frombits(r.u64())
			}
		}
	}
	for a := range o.p.aggs {
		if o.vdicts[a] == nil {
			continue
		}
		nv := uint64(o.vdicts[a].len())
		due := denseAt(int(nv))
		ne := r.count(2)
		ds, sa := ws.dsets[a], &sh.accs[a]
		turning := false
		for range ne {
			g, v := r.uvarint(), r.uvarint()
			if r.err != nil || g >= uint64(len(ws.gslots)) || v >= nv {
				r.fail("distinct entry")
				return r.err
			}
			turning = ds.add(sa, ws.gslots[g], uint32(v), due) || turning
		}
		if turning {
			o.scratch = ds.densify(sa, ws, int(nv), o.scratch)
		}
	}
	return r.err
}

// reader decodes a snapshot; the first error sticks and zero values follow.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrCorruptSnapshot, what)
	}
	r.b = nil
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("truncated")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("truncated")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) u64() uint64 {
	if len(r.b) < 8 {
		r.fail("truncated")
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *reader) byte1() byte {
	if len(r.b) < 1 {
		r.fail("truncated")
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) str() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail("truncated string")
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// count reads a count of items that take at least minBytes each, refusing
// counts that the remaining input cannot hold.
func (r *reader) count(minBytes int) int {
	n := r.uvarint()
	if n > uint64(len(r.b)/minBytes) {
		r.fail("count")
		return 0
	}
	return int(n)
}

func (r *reader) dict(p physType) *dict {
	d := newDict(p)
	if got := physType(r.byte1()); r.err == nil && got != p {
		r.fail("dict type")
	}
	n := r.count(1)
	null := r.varint()
	if r.err != nil || null < -1 || null >= int64(n) {
		r.fail("dict null id")
		return d
	}
	for id := range uint32(n) {
		switch {
		case int64(id) == null:
			d.internNull()
		case p.isString():
			s := r.str()
			if _, dup := d.strs[s]; dup {
				r.fail("duplicate dict value")
				return d
			}
			d.internString(s)
		default:
			v := r.varint()
			if _, dup := d.ints[v]; dup {
				r.fail("duplicate dict value")
				return d
			}
			d.internInt(v)
		}
		if r.err != nil {
			return d
		}
	}
	return d
}
