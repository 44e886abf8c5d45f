package windows

import (
	"encoding/binary"

	"github.com/shardflow/shardflow/internal/wire"
)

// A snapshot of an operator that spilled ends, after its shards, with the
// spilled values, which its windows' distinct entries do not hold:
//
//	's', then per value: uvarint 1, shard index (in the snapshot's shard
//	order), window start, aggregate index, key id, value (a string: the
//	bytes of a string value, 8 big-endian bytes of any other); uvarint 0
//
// A snapshot without spilled values has no such section and is the same as
// before spilling existed. Restore puts the values back in memory, as if the
// operator had never spilled; the operator spills again after its next batch
// if the state is still over the limit.
const spillSection = 's'

// appendSpilled appends the spilled values of o, or for a temporary
// operator made by SnapshotShards those of its source's shard, if any.
func (o *Operator) appendSpilled(b []byte) ([]byte, error) {
	src, prefix := o, []byte(nil)
	index := map[uint32]uint64{}
	if g := &o.st; g.src != nil {
		src, prefix = g.src, binary.BigEndian.AppendUint32(nil, g.srcShard)
		index[g.srcShard] = 0
	} else {
		for i, sh := range o.byName {
			if id, ok := o.st.ids[sh.name]; ok {
				index[id] = uint64(i)
			}
		}
	}
	g := &src.st
	if g.store == nil || !g.anySpilled() {
		return b, nil
	}
	if g.err != nil {
		return nil, g.err
	}
	b = append(b, spillSection)
	err := g.store.Scan(prefix, func(key []byte) error {
		si, ok := index[binary.BigEndian.Uint32(key)]
		if !ok || len(key) < spillKeyLen {
			return nil // the merge area of a failed firing, or a shard o does not snapshot
		}
		kid := binary.BigEndian.Uint32(key[14:])
		if src != o {
			kid = o.keys.internFrom(src.keys, kid)
		}
		b = binary.AppendUvarint(b, 1)
		b = binary.AppendUvarint(b, si)
		b = binary.AppendVarint(b, int64(binary.BigEndian.Uint64(key[4:])^(1<<63)))
		b = binary.AppendUvarint(b, uint64(binary.BigEndian.Uint16(key[12:])))
		b = binary.AppendUvarint(b, uint64(kid))
		b = appendString(b, string(key[spillKeyLen:]))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return binary.AppendUvarint(b, 0), nil
}

// decodeSpilled reads the spilled values section, if r has one, into the
// distinct sets of the windows already decoded.
func (o *Operator) decodeSpilled(r *wire.Reader) error {
	if r.Err() != nil || r.Len() == 0 {
		return r.Err()
	}
	if r.Byte() != spillSection {
		r.Fail("trailing bytes")
		return r.Err()
	}
	type due struct {
		sh *shardState
		ws *winState
		a  int
	}
	turning := map[due]bool{}
	for {
		if tag := r.Uvarint(); r.Err() != nil || tag == 0 {
			break
		} else if tag != 1 {
			r.Fail("spilled value tag")
			break
		}
		si, start, a, kid, val := r.Uvarint(), r.Varint(), r.Uvarint(), r.Uvarint(), r.String()
		if r.Err() != nil || si >= uint64(len(o.byName)) || a >= uint64(len(o.vdicts)) || o.vdicts[a] == nil {
			r.Fail("spilled value")
			break
		}
		sh := o.byName[si]
		ws := sh.windows[winKey{start, 0}]
		var s int32
		ok := ws != nil
		if ok {
			s, ok = ws.slots[uint32(kid)]
		}
		d := o.vdicts[a]
		if !ok || !d.phys.isString() && len(val) != 8 {
			r.Fail("spilled value of no group")
			break
		}
		var vid uint32
		if d.phys.isString() {
			vid = d.internString(val)
		} else {
			vid = d.internInt(int64(binary.BigEndian.Uint64([]byte(val))))
		}
		if ws.dsets[a].add(&sh.accs[a], s, vid, denseAt(d.len())) {
			turning[due{sh, ws, int(a)}] = true
		}
	}
	for t := range turning {
		o.scratch = t.ws.dsets[t.a].densify(&t.sh.accs[t.a], t.ws, o.vdicts[t.a].len(), o.scratch)
	}
	return r.Err()
}
