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
func (o *Operator) OnWatermark(_ context.Context, wm int64, emit pipeline.Emit) error {
	if wm <= o.wm {
		return nil
	}
	o.wm = wm
	parts := map[int64][]part{}
	for _, sh := range o.byName {
		for st, ws := range sh.windows {
			if ws.end <= wm {
				parts[st] = append(parts[st], part{sh: sh, ws: ws})
			}
		}
	}
	if len(parts) == 0 {
		return nil
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
		if err := o.mergeWindow(ps, b); err != nil {
			return err
		}
		minT, maxT = min(minT, st), max(maxT, ps[0].ws.end)
		o.windowsFired++
		for _, p := range ps {
			o.freeWindow(p.sh, p.ws)
		}
	}
	emit(&pipeline.Batch{Rec: b.NewRecordBatch(), MinTime: minT, MaxTime: maxT})
	o.maybeCompact()
	return nil
}

// mergeWindow merges the partial states of one window and appends its rows,
// sorted by key, to b.
func (o *Operator) mergeWindow(ps []part, b *array.RecordBuilder) error {
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
		if aggs[a].kind == kindCountDistinct {
			o.mergeDistinct(a, ps)
		}
	}

	perm := make([]int32, len(o.mkeys))
	for i := range perm {
		perm[i] = int32(i)
	}
	slices.SortFunc(perm, func(x, y int32) int { return o.keys.compare(o.mkeys[x], o.mkeys[y]) })

	start, end := ps[0].ws.start, ps[0].ws.end
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

// mergeDistinct counts, per merged group, the distinct values that the parts'
// sets hold for aggregate a.
func (o *Operator) mergeDistinct(a int, ps []part) {
	cnt := o.macc[a].n
	for _, p := range ps {
		need := int(p.sh.nslots)
		if len(o.slotMap) < need {
			o.slotMap = make([]int32, need)
		}
		for g, s := range p.ws.gslots {
			o.slotMap[s] = p.gm[g]
		}
		set := p.ws.sets[a]
		if len(ps) == 1 {
			for _, k := range set.keys {
				if k != emptyKey {
					cnt[o.slotMap[k>>32]]++
				}
			}
			return
		}
		if o.mset == nil {
			o.mset = newU64Set(set.len())
		}
		for _, k := range set.keys {
			if k != emptyKey && o.mset.insert(uint64(o.slotMap[k>>32])<<32|k&0xffff_ffff) {
				cnt[o.slotMap[k>>32]]++
			}
		}
	}
	if o.mset != nil {
		o.mset.reset()
	}
}

// appendAgg appends the merged values of one aggregate, in perm order.
func appendAgg(fb array.Builder, ap *aggPlan, m *acc, perm []int32) error {
	switch ap.kind {
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
	case kindMin, kindMax:
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
		for _, sh := range o.byName {
			for _, ws := range sh.windows {
				set := newU64Set(ws.sets[a].len())
				for _, k := range ws.sets[a].keys {
					if k == emptyKey {
						continue
					}
					v := uint32(k)
					if vremap[v] == none {
						vremap[v] = nd.internFrom(old, v)
					}
					set.insert(k&^0xffff_ffff | uint64(vremap[v]))
				}
				ws.sets[a] = set
			}
		}
		o.vdicts[a] = nd
	}
	// Key ids changed meaning: forget every cached slot.
	o.cacheSerial, o.cacheSlot = o.cacheSerial[:0], o.cacheSlot[:0]
}
