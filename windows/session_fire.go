package windows

import (
	"cmp"
	"context"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/shardflow/shardflow/pipeline"
)

// noKey marks a free session slot.
const noKey = ^uint32(0)

// OnWatermark implements pipeline.KeyedOperator: it emits every session that
// wm closes (last+gap < wm), merging the partial sessions of its key across
// shards, as one batch sorted by (session_start, keys). A watermark that does
// not advance does nothing.
//
// The final watermark of a bounded input (MaxTime) closes every session, and
// then leaves the operator's watermark just past the close of the latest
// session it emitted, so that if the input grows and the job resumes, rows at
// or before that session's last row are late.
func (o *SessionOperator) OnWatermark(_ context.Context, wm int64, emit pipeline.Emit) error {
	if wm <= o.wm {
		return nil
	}
	final := wm == pipeline.MaxTime
	prev := o.wm
	o.wm = wm
	for a := range o.macc {
		o.macc[a].truncate()
	}
	if len(o.macc) != len(o.p.aggs) {
		o.macc = make([]acc, len(o.p.aggs))
	}
	o.out = o.out[:0]
	o.merges = o.merges[:0]
	for len(o.heap) > 0 && (final || o.heap[0].due < wm) {
		e := o.heap.pop()
		if !o.inHeap[e.kid] || o.kdue[e.kid] != e.due {
			continue // superseded by an earlier deadline, or fired
		}
		o.inHeap[e.kid] = false
		o.fireKey(e.kid, wm, final)
	}
	// Merge the fired parts an aggregate at a time: the slots are all over
	// the shards' state, and short loops of independent iterations let the
	// CPU wait for many of their cache misses at once.
	for a := range o.p.aggs {
		ap, ma := &o.p.aggs[a], &o.macc[a]
		for _, m := range o.merges {
			sa := &m.sh.accs[a]
			mergeSlot(ap, ma, m.g, sa, m.slot)
			sa.clearSlot(ap.store, m.slot)
		}
		if o.p.dist[a] {
			o.mergeDistinct(a)
		}
	}
	for _, m := range o.merges {
		o.release(m.sh, m.slot)
	}
	if final {
		closeAt := prev
		for _, f := range o.out {
			closeAt = max(closeAt, addSat(addSat(f.end, o.p.gap), 1))
		}
		o.wm = closeAt
	}
	if len(o.out) == 0 {
		return nil
	}
	slices.SortFunc(o.out, func(x, y firedSession) int {
		if c := cmp.Compare(x.start, y.start); c != 0 {
			return c
		}
		return o.keys.compare(x.kid, y.kid)
	})
	rec, minT, maxT, err := o.build()
	if err != nil {
		return err
	}
	o.fired += int64(len(o.out))
	emit(&pipeline.Batch{Rec: rec, MinTime: minT, MaxTime: maxT})
	o.byName = slices.DeleteFunc(o.byName, func(sh *sessShard) bool {
		if sh.live > 0 {
			return false
		}
		delete(o.shards, sh.name)
		return true
	})
	o.maybeCompact()
	return nil
}

// fireKey emits the sessions of key kid that wm closes (all of them if
// final) and schedules the key again if it keeps open ones.
func (o *SessionOperator) fireKey(kid uint32, wm int64, final bool) {
	parts := o.parts[:0]
	for i, sh := range o.byName {
		if int(kid) >= len(sh.head) {
			continue
		}
		for h := sh.head[kid]; h != 0; h = sh.sess[h-1].next {
			se := &sh.sess[h-1]
			parts = append(parts, sessPart{sh: i, slot: h - 1, first: se.first, last: se.last})
		}
	}
	slices.SortFunc(parts, func(x, y sessPart) int {
		if c := cmp.Compare(x.first, y.first); c != 0 {
			return c
		}
		return cmp.Compare(x.sh, y.sh)
	})
	open, due := false, int64(0)
	for i := 0; i < len(parts); {
		j, last := i+1, parts[i].last
		for j < len(parts) && parts[j].first <= addSat(last, o.p.gap) {
			last = max(last, parts[j].last)
			j++
		}
		group := parts[i:j]
		if !final && !o.closedAt(last, wm) {
			if c := addSat(last, o.p.gap); !open || c < due {
				due = c
			}
			open = true
			i = j
			continue
		}
		// Merge in shard order, as windows merge their shards' partials
		// (ties of First and Last go to the shard whose name sorts first,
		// or last), then by start.
		start := group[0].first
		slices.SortStableFunc(group, func(x, y sessPart) int { return cmp.Compare(x.sh, y.sh) })
		g := int32(len(o.out))
		for a := range o.p.aggs {
			o.macc[a].grow(o.p.aggs[a].store)
		}
		for k := range group {
			p := &group[k]
			o.merges = append(o.merges, sessMerge{sh: o.byName[p.sh], slot: p.slot, g: g})
			p.slot = -1
		}
		o.out = append(o.out, firedSession{start: start, end: last, kid: kid, g: g})
		i = j
	}
	// Relink what stays open; parts are in start order within each shard.
	for _, p := range parts {
		o.byName[p.sh].head[kid] = 0
	}
	for k := len(parts) - 1; k >= 0; k-- {
		if p := parts[k]; p.slot >= 0 {
			sh := o.byName[p.sh]
			sh.sess[p.slot].next = sh.head[kid]
			sh.head[kid] = p.slot + 1
		}
	}
	o.parts = parts[:0]
	if open {
		o.schedule(kid, due)
	}
}

// mergeDistinct counts, per fired session, the distinct values of its parts
// for CountDistinct aggregate a.
func (o *SessionOperator) mergeDistinct(a int) {
	if cap(o.mdv) < len(o.out) {
		o.mdv = make([][]uint32, len(o.out))
	}
	o.mdv = o.mdv[:len(o.out)]
	for g := range o.mdv {
		o.mdv[g] = o.mdv[g][:0]
	}
	for _, m := range o.merges {
		o.mdv[m.g] = unionIDs(o.mdv[m.g], m.sh.dv[a][m.slot])
	}
	for g, ids := range o.mdv {
		o.macc[a].n[g] = int64(len(ids))
	}
}

// sessMerge is a part of a fired session: slot of sh goes into slot g of
// the merged partials.
type sessMerge struct {
	sh   *sessShard
	slot int32
	g    int32
}

// build makes the output batch of o.out.
func (o *SessionOperator) build() (arrow.RecordBatch, int64, int64, error) {
	b := array.NewRecordBuilder(o.mem, o.p.out)
	defer b.Release()
	nk := len(o.keys.cols)
	for c, d := range o.keys.cols {
		fb := b.Field(c)
		for _, f := range o.out {
			d.appendValue(fb, o.keys.colID(f.kid, c))
		}
	}
	sb := b.Field(nk).(*array.TimestampBuilder)
	eb := b.Field(nk + 1).(*array.TimestampBuilder)
	minT, maxT := pipeline.MaxTime, pipeline.MinTime
	perm := make([]int32, len(o.out))
	for k, f := range o.out {
		sb.Append(arrow.Timestamp(f.start))
		eb.Append(arrow.Timestamp(f.end))
		minT, maxT = min(minT, f.start), max(maxT, f.end)
		perm[k] = f.g
	}
	for a := range o.p.aggs {
		fb, m := b.Field(nk+2+a), &o.macc[a]
		switch {
		case o.p.any[a]:
			bb := fb.(*array.BooleanBuilder)
			for _, g := range perm {
				bb.Append(m.n[g] > 0)
			}
		case o.p.strs[a]:
			d := o.sdicts[a]
			for _, g := range perm {
				if m.n[g] == 0 {
					fb.AppendNull()
				} else {
					d.appendValue(fb, uint32(m.i[g]))
				}
			}
		default:
			if err := appendAgg(fb, &o.p.aggs[a], m, perm); err != nil {
				return nil, 0, 0, err
			}
		}
	}
	return b.NewRecordBatch(), minT, maxT, nil
}

// deadline says that key kid has a session that may close at due: once the
// watermark passes due, the key's sessions are looked at.
type deadline struct {
	due int64
	kid uint32
}

// deadlines is a binary min-heap of deadlines by due.
type deadlines []deadline

func (h *deadlines) push(d deadline) {
	*h = append(*h, d)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p].due <= s[i].due {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h *deadlines) pop() deadline {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && s[l].due < s[m].due {
			m = l
		}
		if r < n && s[r].due < s[m].due {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// rebuildHeap schedules every key that has sessions at the earliest close
// of its sessions.
func (o *SessionOperator) rebuildHeap() {
	o.heap = o.heap[:0]
	o.inHeap = make([]bool, o.keys.len())
	o.kdue = make([]int64, o.keys.len())
	for _, sh := range o.byName {
		for s := range sh.sess {
			if se := &sh.sess[s]; se.kid != noKey {
				c := addSat(se.last, o.p.gap)
				if !o.inHeap[se.kid] || c < o.kdue[se.kid] {
					o.inHeap[se.kid], o.kdue[se.kid] = true, c
				}
			}
		}
	}
	for kid, in := range o.inHeap {
		if in {
			o.heap.push(deadline{due: o.kdue[kid], kid: uint32(kid)})
		}
	}
}

// maybeCompact rebuilds the key dict, and the value dicts of string First and
// Last and of CountDistinct, from the open sessions once they have grown well past what those
// sessions use, so that the keys of closed sessions do not accumulate.
func (o *SessionOperator) maybeCompact() {
	size := o.keys.len()
	for _, d := range o.sdicts {
		if d != nil {
			size += d.len()
		}
	}
	if size <= o.compact {
		return
	}
	nk := newKeyTable(o.p.keyPhys)
	remap := make([]uint32, o.keys.len())
	for i := range remap {
		remap[i] = noKey
	}
	for _, sh := range o.byName {
		for s := range sh.sess {
			se := &sh.sess[s]
			if se.kid == noKey {
				continue
			}
			if remap[se.kid] == noKey {
				remap[se.kid] = nk.internFrom(o.keys, se.kid)
			}
			se.kid = remap[se.kid]
		}
	}
	for _, sh := range o.byName {
		head := make([]int32, nk.len())
		for kid, h := range sh.head {
			if h != 0 {
				head[remap[kid]] = h
			}
		}
		sh.head = head
	}
	o.keys = nk
	live := nk.len()
	for a, old := range o.sdicts {
		if old == nil {
			continue
		}
		nd := newDict(old.phys)
		vremap := make([]uint32, old.len())
		for i := range vremap {
			vremap[i] = noKey
		}
		for _, sh := range o.byName {
			m := &sh.accs[a]
			if o.p.dist[a] {
				for s, ids := range sh.dv[a] {
					if sh.sess[s].kid == noKey {
						continue
					}
					for k, v := range ids {
						if vremap[v] == noKey {
							vremap[v] = nd.internFrom(old, v)
						}
						ids[k] = vremap[v]
					}
					slices.Sort(ids)
				}
				continue
			}
			for s := range sh.sess {
				if sh.sess[s].kid == noKey || m.n[s] == 0 {
					continue
				}
				if v := uint32(m.i[s]); vremap[v] == noKey {
					vremap[v] = nd.internFrom(old, v)
				}
				m.i[s] = int64(vremap[uint32(m.i[s])])
			}
		}
		o.sdicts[a] = nd
		live += nd.len()
	}
	o.rebuildHeap()
	o.compact = max(2*live, o.minCompact)
}
