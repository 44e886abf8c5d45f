package windows

import (
	"context"
	"fmt"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/shardflow/shardflow/pipeline"
)

// part is one shard's partial state of a window that fires.
type part struct {
	sh *shardState
	ws *winState
	gm []int32 // merged group of each of ws's groups
}

// OnWatermark implements pipeline.KeyedOperator: it fires every window whose
// end is at or before wm, merging the shards' partial aggregates, and emits
// them as one batch sorted by (window_start, keys). A watermark that does not
// advance does nothing.
//
// The final watermark of a bounded input (MaxTime) fires every window, and
// then leaves the operator's watermark at the end of the last window it
// fired: if the input grows afterwards (lines appended to a file, more
// events) and the job resumes from its checkpoint, rows for the windows that
// fired are late, and rows for later windows are counted as usual.
func (o *Operator) OnWatermark(_ context.Context, wm int64, emit pipeline.Emit) error {
	starts, err := o.onWatermark(wm, emit)
	o.windowsFired += o.firings.fire(wm, starts)
	return err
}

// onWatermark fires what wm completes and returns the starts of the windows
// it fired.
func (o *Operator) onWatermark(wm int64, emit pipeline.Emit) ([]int64, error) {
	if o.p.panes != nil {
		return o.firePanes(wm, emit) // panes.go
	}
	if wm <= o.wm {
		return nil, nil
	}
	if wm == pipeline.MaxTime {
		defer func(prev int64) { o.wm = max(prev, addSat(o.lastEnd, o.lateness)) }(o.wm)
	}
	prev := o.wm
	o.wm = wm
	if o.lateness > 0 {
		return o.fireLate(prev, wm, emit)
	}
	parts := map[int64][]part{}
	for _, sh := range o.byName {
		for _, ws := range sh.windows {
			if ws.end <= wm {
				parts[ws.start] = append(parts[ws.start], part{sh: sh, ws: ws})
			}
		}
	}
	if len(parts) == 0 {
		return nil, nil
	}
	starts := make([]int64, 0, len(parts))
	for st := range parts {
		starts = append(starts, st)
	}
	slices.Sort(starts)

	b := array.NewRecordBuilder(o.mem, o.p.out)
	defer b.Release()
	minT, maxT := pipeline.MaxTime, pipeline.MinTime
	for _, st := range starts {
		ps := parts[st]
		if err := o.mergeWindow(ps, st, ps[0].ws.end, b); err != nil {
			return nil, err
		}
		minT, maxT = min(minT, st), max(maxT, ps[0].ws.end)
		o.lastEnd = max(o.lastEnd, ps[0].ws.end)
		for _, p := range ps {
			o.freeWindow(p.sh, p.ws)
		}
	}
	emit(&pipeline.Batch{Rec: b.NewRecordBatch(), MinTime: minT, MaxTime: maxT})
	o.dropIdleShards()
	o.maybeCompact()
	return starts, nil
}

// dropIdleShards forgets the shards that have no open window left. Their
// state holds nothing (every slot was freed when its window fired), and a
// long-running job sees shards come and go as its source reshards: keeping
// them would grow the state, the snapshots and every watermark's scan without
// bound. A shard that sends rows again starts with a fresh state.
func (o *Operator) dropIdleShards() {
	o.byName = slices.DeleteFunc(o.byName, func(sh *shardState) bool {
		if len(sh.windows) > 0 {
			return false
		}
		delete(o.shards, sh.name)
		return true
	})
}

// mergeWindow merges the partial states of the window [start, end) (of its
// shards, and with panes of its panes) and appends its rows, sorted by key,
// to b.
func (o *Operator) mergeWindow(ps []part, start, end int64, b *array.RecordBuilder) error {
	return o.mergeWindowOnly(ps, start, end, nil, b)
}

// mergeWindowOnly is mergeWindow of the keys in only, or every key if only
// is nil.
func (o *Operator) mergeWindowOnly(ps []part, start, end int64, only map[uint32]bool, b *array.RecordBuilder) error {
	aggs := o.p.aggs
	if len(o.macc) != len(aggs) {
		o.macc = make([]acc, len(aggs))
	}
	for i := range o.macc {
		o.macc[i].truncate()
	}
	o.mkeys = o.mkeys[:0]
	if o.mindex == nil {
		o.mindex = map[uint32]int32{}
	}
	clear(o.mindex)

	for pi := range ps {
		p := &ps[pi]
		p.gm = make([]int32, len(p.ws.keys))
		for g, kid := range p.ws.keys {
			if only != nil && !only[kid] {
				p.gm[g] = -1
				continue
			}
			d, ok := o.mindex[kid]
			if !ok {
				d = int32(len(o.mkeys))
				o.mindex[kid] = d
				o.mkeys = append(o.mkeys, kid)
				for a := range aggs {
					o.macc[a].grow(aggs[a].store)
				}
			}
			p.gm[g] = d
			s := p.ws.gslots[g]
			for a := range aggs {
				if aggs[a].kind != kindCountDistinct {
					mergeSlot(&aggs[a], &o.macc[a], d, &p.sh.accs[a], s)
				}
			}
		}
	}
	for a := range aggs {
		if o.st.spilled(a) {
			if only != nil {
				return fmt.Errorf("windows: %s: cannot correct a window whose distinct values spilled", o.p.name)
			}
			if err := o.mergeSpilled(a, ps); err != nil {
				return err
			}
		} else if aggs[a].kind == kindCountDistinct {
			o.mergeDistinct(a, ps)
		}
	}

	perm := make([]int32, len(o.mkeys))
	for i := range perm {
		perm[i] = int32(i)
	}
	slices.SortFunc(perm, func(x, y int32) int { return o.keys.compare(o.mkeys[x], o.mkeys[y]) })

	sb := b.Field(0).(*array.TimestampBuilder)
	eb := b.Field(1).(*array.TimestampBuilder)
	for range perm {
		sb.Append(arrow.Timestamp(start))
		eb.Append(arrow.Timestamp(end))
	}
	nk := len(o.keys.cols)
	for c, d := range o.keys.cols {
		fb := b.Field(2 + c)
		for _, g := range perm {
			d.appendValue(fb, o.keys.colID(o.mkeys[g], c))
		}
	}
	for a := range aggs {
		if err := appendAgg(b.Field(2+nk+a), &aggs[a], &o.macc[a], perm); err != nil {
			return err
		}
	}
	return nil
}

// mergeDistinct counts, per merged group, the distinct values that the parts
// hold for aggregate a.
func (o *Operator) mergeDistinct(a int, ps []part) {
	cnt := o.macc[a].n
	if len(ps) == 1 { // the shard's counts are exact
		p := ps[0]
		for g, s := range p.ws.gslots {
			if d := p.gm[g]; d >= 0 {
				cnt[d] = p.sh.accs[a].n[s]
			}
		}
		return
	}
	// Groups dense in some part merge into a bitmap; the rest into a set of
	// (merged group, value id).
	words := (o.vdicts[a].len() + 63) / 64
	o.mdense = grow(o.mdense, len(o.mkeys))
	clear(o.mdense)
	ndense := int32(0)
	for _, p := range ps {
		pa := &p.sh.accs[a]
		for g, s := range p.ws.gslots {
			if d := p.gm[g]; d >= 0 && pa.i[s] > 0 && o.mdense[d] == 0 {
				ndense++
				o.mdense[d] = ndense
			}
		}
	}
	o.mbits = grow(o.mbits, int(ndense)*words)
	clear(o.mbits)
	bitmap := func(d int32) []uint64 {
		k := int(o.mdense[d] - 1)
		return o.mbits[k*words : (k+1)*words]
	}
	if o.mset == nil {
		o.mset = newU64Set(0)
	}
	for _, p := range ps {
		pa := &p.sh.accs[a]
		need := int(p.sh.nslots)
		if len(o.slotMap) < need {
			o.slotMap = make([]int32, need)
		}
		for g, s := range p.ws.gslots {
			d := p.gm[g]
			o.slotMap[s] = d
			if bi := pa.i[s]; d >= 0 && bi > 0 {
				dst := bitmap(d)
				for w, x := range p.ws.dsets[a].dense[bi-1][:min(words, len(p.ws.dsets[a].dense[bi-1]))] {
					dst[w] |= x
				}
			}
		}
		for _, k := range p.ws.dsets[a].sparse.keys {
			if k == emptyKey {
				continue
			}
			d, v := o.slotMap[k>>32], uint32(k)
			if d < 0 {
				continue
			}
			if o.mdense[d] > 0 {
				bitmap(d)[v>>6] |= 1 << (v & 63)
			} else if o.mset.insert(uint64(d)<<32 | uint64(v)) {
				cnt[d]++
			}
		}
	}
	for d, k := range o.mdense {
		if k > 0 {
			cnt[d] = popcount(bitmap(int32(d)))
		}
	}
	o.mset.reset()
}

// appendAgg appends the merged values of one aggregate, in perm order.
func appendAgg(fb array.Builder, ap *aggPlan, m *acc, perm []int32) error {
	switch ap.kind {
	case kindCustom:
		return appendCustom(fb, ap, m.c, perm)
	case kindCount, kindCountIf, kindCountDistinct:
		ib := fb.(*array.Int64Builder)
		for _, g := range perm {
			ib.Append(m.n[g])
		}
	case kindSum, kindSumIf:
		if ap.store&storeF != 0 {
			fb := fb.(*array.Float64Builder)
			for _, g := range perm {
				fb.Append(m.f[g])
			}
		} else {
			ib := fb.(*array.Int64Builder)
			for _, g := range perm {
				ib.Append(m.i[g])
			}
		}
	case kindAvg:
		fb := fb.(*array.Float64Builder)
		for _, g := range perm {
			switch {
			case m.n[g] == 0:
				fb.AppendNull()
			case ap.store&storeF != 0:
				fb.Append(m.f[g] / float64(m.n[g]))
			default:
				fb.Append(float64(m.i[g]) / float64(m.n[g]))
			}
		}
	case kindMin, kindMax, kindFirst, kindLast:
		for _, g := range perm {
			if m.n[g] == 0 {
				fb.AppendNull()
				continue
			}
			switch fb := fb.(type) {
			case *array.Int8Builder:
				fb.Append(int8(m.i[g]))
			case *array.Int16Builder:
				fb.Append(int16(m.i[g]))
			case *array.Int32Builder:
				fb.Append(int32(m.i[g]))
			case *array.Int64Builder:
				fb.Append(m.i[g])
			case *array.Uint8Builder:
				fb.Append(uint8(m.i[g]))
			case *array.Uint16Builder:
				fb.Append(uint16(m.i[g]))
			case *array.Uint32Builder:
				fb.Append(uint32(m.i[g]))
			case *array.Uint64Builder:
				fb.Append(m.u[g])
			case *array.Float32Builder:
				fb.Append(float32(m.f[g]))
			case *array.Float64Builder:
				fb.Append(m.f[g])
			case *array.TimestampBuilder:
				fb.Append(arrow.Timestamp(m.i[g]))
			default:
				return fmt.Errorf("windows: %s: cannot build %s output", ap.label(), ap.outType)
			}
		}
	}
	return nil
}

// maybeCompact rebuilds the key and value dicts from the open windows once
// they have grown well past what those windows use, so that keys and values
// of fired windows do not accumulate in a long-running job.
func (o *Operator) maybeCompact() {
	if o.st.anySpilled() { // the store's keys hold key ids
		return
	}
	size := o.keys.len()
	for _, d := range o.vdicts {
		if d != nil {
			size += d.len()
		}
	}
	if size <= o.compact {
		return
	}
	o.compactDicts()
	live := o.keys.len()
	for _, d := range o.vdicts {
		if d != nil {
			live += d.len()
		}
	}
	o.compact = max(2*live, o.minCompact)
}

func (o *Operator) compactDicts() {
	const none = ^uint32(0)
	nk := newKeyTable(o.p.keyPhys)
	remap := make([]uint32, o.keys.len())
	for i := range remap {
		remap[i] = none
	}
	for _, sh := range o.byName {
		for _, ws := range sh.windows {
			clear(ws.slots)
			for g, kid := range ws.keys {
				if remap[kid] == none {
					remap[kid] = nk.internFrom(o.keys, kid)
				}
				ws.keys[g] = remap[kid]
				ws.slots[ws.keys[g]] = ws.gslots[g]
			}
		}
	}
	o.keys = nk
	for a, old := range o.vdicts {
		if old == nil {
			continue
		}
		nd := newDict(old.phys)
		vremap := make([]uint32, old.len())
		for i := range vremap {
			vremap[i] = none
		}
		remapV := func(v uint32) uint32 {
			if vremap[v] == none {
				vremap[v] = nd.internFrom(old, v)
			}
			return vremap[v]
		}
		for _, sh := range o.byName {
			for _, ws := range sh.windows {
				ds := ws.dsets[a]
				o.scratch = o.scratch[:0]
				for _, k := range ds.sparse.keys {
					if k != emptyKey {
						o.scratch = append(o.scratch, k&^0xffff_ffff|uint64(remapV(uint32(k))))
					}
				}
				ds.sparse.reset()
				for _, k := range o.scratch {
					ds.sparse.insert(k)
				}
				for bi, bm := range ds.dense {
					nb := make([]uint64, len(bm))
					eachBit(bm, func(v uint32) {
						nv := remapV(v)
						if int(nv>>6) >= len(nb) {
							nb = append(nb, make([]uint64, int(nv>>6)+1-len(nb))...)
						}
						nb[nv>>6] |= 1 << (nv & 63)
					})
					ds.denseBytes += 8 * int64(cap(nb)-cap(bm))
					ds.dense[bi] = nb
				}
			}
		}
		o.vdicts[a] = nd
	}
	// Key ids changed meaning: forget every cached slot.
	o.cacheSerial, o.cacheSlot = o.cacheSerial[:0], o.cacheSlot[:0]
}
