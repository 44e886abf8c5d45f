package windows

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/shardflow/shardflow/internal/wire"
)

// Snapshot format, version 3 (version 2, which had no step after each
// window's end, and which a stage without AllowedLateness still writes,
// and version 1, which had no First or Last and so no
// event-time partials either, read the same way and still restore). All integers are varints (signed) or uvarints
// (counts, ids); floats are 8 bytes little-endian; strings are a uvarint
// length and the bytes.
//
//	magic "SFWN", version byte
//	stage name (a snapshot restores only into the same stage)
//	watermark, rows_in, late_rows, null_time_rows, windows_fired, compact
//	key dicts (one per key column), then key tuples when there are several
//	value dicts of the CountDistinct aggregates, in aggregate order
//	shards, sorted by name: name, windows sorted by start:
//	  start, end, step (0, or k for the state of the k-th correction, with
//	  AllowedLateness; windows sorted by start then step), groups: key id, then every non-distinct aggregate's partial
//	  (n, i, u, f, then for First and Last the event time t, as a varint;
//	  for a custom aggregate, its state's MarshalBinary as a string, and an
//	  empty string for no state; a stage with custom aggregates never had a
//	  version 1 snapshot, so the version did not change)
//	  then per CountDistinct aggregate: entries (group index, value id)
//	then, only for an operator that spilled, its spilled values (spill_snapshot.go)
//	CRC-32C of everything before it, 4 bytes little-endian
//
// Dicts hold phys, size, null id (-1 for none) and the values by id.
const (
	snapMagic   = "SFWN"
	snapVersion = 3
	// snapVersionV3 added each window's step: 0 for its on-time rows, k for
	// those of its k-th correction (AllowedLateness).
	snapVersionV3 = 3
	// snapVersionV2 is what a stage without allowed lateness still writes.
	snapVersionV2 = 2
	// snapVersionV1 is the oldest version Restore reads.
	snapVersionV1 = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorruptSnapshot is returned by Restore for state it cannot decode.
var ErrCorruptSnapshot = errors.New("windows: corrupt snapshot")

// Snapshot implements pipeline.KeyedOperator.
func (o *Operator) Snapshot() ([]byte, error) {
	b := make([]byte, 0, 1024)
	b = append(b, snapMagic...)
	if o.p.lateness > 0 {
		b = append(b, snapVersionV3)
	} else {
		b = append(b, snapVersionV2) // the same bytes as before steps existed
	}
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
		starts := sortedWindows(sh)
		b = binary.AppendUvarint(b, uint64(len(starts)))
		for _, st := range starts {
			var err error
			if b, err = o.appendWindow(b, sh, sh.windows[st]); err != nil {
				return nil, err
			}
		}
	}
	b, err := o.appendSpilled(b)
	if err != nil {
		return nil, err
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

func (o *Operator) appendWindow(b []byte, sh *shardState, ws *winState) ([]byte, error) {
	b = binary.AppendVarint(b, ws.start)
	b = binary.AppendVarint(b, ws.end)
	if o.p.lateness > 0 {
		b = binary.AppendVarint(b, int64(ws.step))
	}
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
			if ap.store&storeT != 0 {
				b = binary.AppendVarint(b, m.t[s])
			}
			if ap.store&storeC != 0 {
				var err error
				if b, err = appendCustomState(b, m.c.states[s]); err != nil {
					return nil, fmt.Errorf("windows: %s: %w", ap.label(), err)
				}
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
	return b, nil
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
			b = appendString(b, d.str(id))
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
	v := state[len(snapMagic)]
	if v > snapVersion || v < snapVersionV1 {
		return fmt.Errorf("windows: snapshot version %d, want %d to %d", v, snapVersionV1, snapVersion)
	}
	body, sum := state[:len(state)-4], binary.LittleEndian.Uint32(state[len(state)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return fmt.Errorf("%w: checksum mismatch", ErrCorruptSnapshot)
	}
	r := wire.NewReader(body[len(snapMagic)+1:], ErrCorruptSnapshot)
	if name := r.String(); r.Err() == nil && name != o.p.name {
		return fmt.Errorf("windows: snapshot of stage %q cannot restore stage %q", name, o.p.name)
	}
	o.unregister()
	t := o.temp(o.firings)
	if err := t.decode(r, v); err != nil {
		t.unregister()
		o.reregister()
		return err
	}
	o.adopt(t)
	return nil
}

func (o *Operator) decode(r *wire.Reader, version byte) error {
	o.wm = r.Varint()
	o.rowsIn, o.lateRows, o.nullTimeRows, o.windowsFired = r.Varint(), r.Varint(), r.Varint(), r.Varint()
	o.compact = max(int(r.Varint()), o.minCompact)
	for c, d := range o.keys.cols {
		o.keys.cols[c] = readDict(r, d.phys)
	}
	if nc := len(o.keys.cols); nc > 1 {
		n := r.Count(nc)
		for range n {
			o.keys.buf = o.keys.buf[:0]
			for c := range nc {
				id := r.Uvarint()
				if id >= uint64(o.keys.cols[c].n) {
					r.Fail("key tuple")
				}
				o.keys.buf = binary.LittleEndian.AppendUint32(o.keys.buf, uint32(id))
			}
			if _, dup := o.keys.tuples[string(o.keys.buf)]; dup {
				r.Fail("duplicate key tuple")
			}
			if r.Err() != nil {
				return r.Err()
			}
			o.keys.internTuple()
		}
	}
	for a, d := range o.vdicts {
		if d != nil {
			o.vdicts[a] = readDict(r, d.phys)
		}
	}
	nsh := r.Count(2)
	for range nsh {
		name := r.String()
		if _, dup := o.shards[name]; dup || r.Err() != nil {
			r.Fail("duplicate shard")
			return r.Err()
		}
		sh := o.shard(name)
		nw := r.Count(3)
		for range nw {
			if err := o.decodeWindow(r, sh, version); err != nil {
				return err
			}
		}
	}
	if err := o.decodeSpilled(r); err != nil {
		return err
	}
	if r.Err() == nil && r.Len() != 0 {
		r.Fail("trailing bytes")
	}
	return r.Err()
}

func (o *Operator) decodeWindow(r *wire.Reader, sh *shardState, version byte) error {
	start, end := r.Varint(), r.Varint()
	var step int64
	if version >= snapVersionV3 {
		step = r.Varint()
	}
	if r.Err() == nil {
		if err := o.checkPaneSnapshot(start, end); err != nil { // panes.go
			return err
		}
	}
	if r.Err() == nil && (end != windowEnd(start, o.p.size) || sh.windows[winKey{start, int32(step)}] != nil) {
		r.Fail("window bounds")
	}
	if r.Err() == nil && (step < 0 || step > 0 && (o.p.lateness == 0 || step > o.p.lateness/o.p.revEvery)) {
		r.Fail("window correction step")
	}
	if r.Err() != nil {
		return r.Err()
	}
	ws := o.window(sh, start, end, int32(step))
	ng := r.Count(1)
	nkeys := uint64(o.keys.len())
	for range ng {
		kid := r.Uvarint()
		if r.Err() != nil || kid >= nkeys {
			r.Fail("group key")
			return r.Err()
		}
		if _, dup := ws.slots[uint32(kid)]; dup {
			r.Fail("duplicate group key")
			return r.Err()
		}
		s := o.newGroup(sh, ws, uint32(kid))
		for a := range o.p.aggs {
			ap := &o.p.aggs[a]
			if ap.kind == kindCountDistinct {
				continue
			}
			m := &sh.accs[a]
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
			if ap.store&storeC != 0 {
				m.c.states[s] = readCustomState(r, ap.fn)
			}
		}
	}
	for a := range o.p.aggs {
		if o.vdicts[a] == nil {
			continue
		}
		nv := uint64(o.vdicts[a].len())
		due := denseAt(int(nv))
		ne := r.Count(2)
		ds, sa := ws.dsets[a], &sh.accs[a]
		turning := false
		for range ne {
			g, v := r.Uvarint(), r.Uvarint()
			if r.Err() != nil || g >= uint64(len(ws.gslots)) || v >= nv {
				r.Fail("distinct entry")
				return r.Err()
			}
			turning = ds.add(sa, ws.gslots[g], uint32(v), due) || turning
		}
		if turning {
			o.scratch = ds.densify(sa, ws, int(nv), o.scratch)
		}
	}
	return r.Err()
}

// readDict reads a dictionary of physical type p.
func readDict(r *wire.Reader, p physType) *dict {
	d := newDict(p)
	if got := physType(r.Byte()); r.Err() == nil && got != p {
		r.Fail("dict type")
	}
	n := r.Count(1)
	null := r.Varint()
	if r.Err() != nil || null < -1 || null >= int64(n) {
		r.Fail("dict null id")
		return d
	}
	for id := range uint32(n) {
		switch {
		case int64(id) == null:
			d.internNull()
		case p.isString():
			s := r.String()
			if before := d.n; d.internString(s) != before {
				r.Fail("duplicate dict value")
				return d
			}
		default:
			v := r.Varint()
			if _, dup := d.ints[v]; dup {
				r.Fail("duplicate dict value")
				return d
			}
			d.internInt(v)
		}
		if r.Err() != nil {
			return d
		}
	}
	return d
}
