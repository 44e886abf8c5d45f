package tiles

import (
	"container/heap"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/expr"
	"github.com/shardflow/shardflow/internal/eventtime"
	"github.com/shardflow/shardflow/pipeline"
)

// emitRows bounds the rows of one output batch.
const emitRows = 4096

// entity is one key's tiles, in ascending order of their index (event time
// divided by the tile size). Tile i's slots are ints[i*nInts:], and so on.
//
// The integer slots and n are running totals: tile i's hold the sum of tiles
// 0..i (plus what pruned tiles added, in base and nBase), so that a window's
// sum is one difference however many tiles it spans (1,440 for a day of
// minutes). Integer sums do not depend on the order of the additions, so the
// totals are rebuilt exactly from the tiles' own values at a restore. Float
// sums do, and are added up tile by tile.
type entity struct {
	key    string
	shard  string // the shard of its latest record: where its state is checkpointed
	idx    []int64
	n      []int64 // records, a running total
	nBase  int64
	ints   []int64 // running totals
	base   []int64 // the totals before tile 0
	floats []float64
	lastTs []int64 // the tile's latest event time
	lasts  []value
	dirty  bool // touched since the last checkpoint
}

// value is a Last feature's value: strings in s, the rest in i (floats as
// their bits).
type value struct {
	null bool
	i    int64
	s    string
}

// Operator computes a Spec's features; it is a pipeline.PartitionedOperator.
type Operator struct {
	p           *plan
	mem         memory.Allocator
	part, parts int
	ents        map[string]*entity
	pending     map[int64][]*entity // tiles not emitted yet, by index
	order       idxHeap             // pending's indices
	wm          int64
	wt          int64 // tiles below it have been emitted: floor(wm / tile)
	// bound and hi judge a row by its own shard (as windows.Operator does):
	// late when its tile ends at or before the shard's watermark, its
	// highest event time so far (Batch.Before, or hi if higher, then row by
	// row) minus bound, whatever the other shards' pace.
	bound    int64
	hi       map[string]int64
	maxAhead int64 // OperatorEnv.MaxAhead
	preds    []expr.Bound
	predOf   []int // per feature: index into preds, or -1
	masks    [][]bool
	dirty    []*entity // touched since the last checkpoint, in order of first touch
	ts       []int64
	all      []int32
	totals   []int64 // scratch for tile

	lateRows, nullRows, tileRows, onlineRows int64
}

var (
	_ pipeline.PartitionedOperator = (*Operator)(nil)
	_ pipeline.SnapshotPreparer    = (*Operator)(nil)
)

func newOperator(p *plan, env pipeline.OperatorEnv) (*Operator, error) {
	o := &Operator{p: p, mem: env.Mem, part: env.Partition, parts: max(env.Partitions, 1),
		ents: map[string]*entity{}, pending: map[int64][]*entity{}, wm: pipeline.MinTime,
		bound: max(env.Bound, 0), hi: map[string]int64{}, maxAhead: max(env.MaxAhead, 0)}
	o.wt = floorDiv(o.wm, p.tile)
	if o.mem == nil {
		o.mem = memory.DefaultAllocator
	}
	preds := make([]expr.Predicate, len(p.feats))
	for i, f := range p.feats {
		preds[i] = f.pred
	}
	var bad int
	var err error
	if o.preds, o.predOf, bad, err = expr.BindShared(preds, p.in); err != nil {
		return nil, fmt.Errorf("tiles: feature %q: %w", p.feats[bad].name, err)
	}
	o.masks = make([][]bool, len(o.preds))
	return o, nil
}

// Counters implements pipeline.CounterReporter.
func (o *Operator) Counters() map[string]int64 {
	return map[string]int64{"late_rows": o.lateRows, "null_rows": o.nullRows, "tile_rows": o.tileRows, "online_rows": o.onlineRows}
}

// Process adds b's rows to their entities' tiles.
func (o *Operator) Process(_ context.Context, b *pipeline.Batch, _ pipeline.Emit) error {
	defer b.Release()
	if b.Len() == 0 {
		return nil
	}
	rec := b.Rec
	if s := rec.Schema(); s != o.p.in && !s.Equal(o.p.in) {
		return fmt.Errorf("tiles: %s: batch schema %s differs from the bound schema", o.p.name, s)
	}
	n := int(rec.NumRows())
	sel := b.Selected(&o.all)
	for i, pb := range o.preds {
		if o.masks[i] = pb.Match(rec, o.masks[i]); len(o.masks[i]) < n {
			return fmt.Errorf("tiles: %s: predicate returned %d results for %d rows", o.p.name, len(o.masks[i]), n)
		}
	}
	tcol := rec.Column(o.p.timeCol)
	ts := eventtime.Millis(tcol.(*array.Timestamp), &o.ts)
	keys, ok := rec.Column(o.p.keyCol).(*array.String)
	if !ok {
		return fmt.Errorf("tiles: %s: key column is %s, want a string", o.p.name, rec.Column(o.p.keyCol).DataType())
	}
	cols := make([]arrow.Array, len(o.p.feats))
	for i, f := range o.p.feats {
		if f.col >= 0 {
			cols[i] = rec.Column(f.col)
		}
	}
	hi, ok := o.hi[b.Shard]
	if !ok || b.Before > hi {
		hi = b.Before
	}
	wild := pipeline.MaxTime // rows ahead of it are wild (OperatorEnv.MaxAhead): late, clock unmoved
	if o.maxAhead > 0 && b.Arrival > 0 {
		wild = b.Arrival + o.maxAhead
	}
	next := 0
	for i, t := range ts { // every row counts for the shard's clock, selected or not
		valid := tcol.IsValid(i)
		if valid && t <= wild {
			hi = max(hi, t)
		}
		if next == len(sel) || int(sel[next]) != i {
			continue
		}
		next++
		if !valid || keys.IsNull(i) {
			o.nullRows++
			continue
		}
		if t > wild {
			o.lateRows++
			continue
		}
		idx := floorDiv(t, o.p.tile)
		if idx < max(o.wt, floorDiv(subSat(hi, o.bound), o.p.tile)) {
			o.lateRows++
			continue
		}
		e := o.ents[keys.Value(i)]
		if e == nil {
			e = &entity{key: strings.Clone(keys.Value(i))}
			o.ents[e.key] = e
		}
		pos := o.tile(e, idx)
		o.add(e, pos, i, t, cols)
		e.shard = b.Shard
		if o.p.online != "" && !e.dirty {
			e.dirty = true
			o.dirty = append(o.dirty, e)
		}
	}
	o.hi[b.Shard] = hi
	return nil
}

// PrepareSnapshot implements pipeline.SnapshotPreparer: with an online side,
// it emits there the current features of every entity that records have
// touched since the last checkpoint, so that each checkpoint holds them.
func (o *Operator) PrepareSnapshot(_ context.Context, emit pipeline.Emit) error {
	if len(o.dirty) == 0 {
		return nil
	}
	out := newRows(o, o.p.online, emit)
	for _, e := range o.dirty {
		e.dirty = false
		out.add(e, len(e.idx)-1)
	}
	clear(o.dirty)
	o.dirty = o.dirty[:0]
	o.onlineRows += out.finish()
	return nil
}

// tile returns the position of e's tile idx, adding it (and marking it
// pending) if e has none yet.
func (o *Operator) tile(e *entity, idx int64) int {
	pos := len(e.idx)
	for pos > 0 && e.idx[pos-1] > idx { // records mostly come in order: search from the end
		pos--
	}
	if pos > 0 && e.idx[pos-1] == idx {
		return pos - 1
	}
	p := o.p
	// The new tile starts at the totals through the tile before it, copied
	// out first: they are in the slice the insertion moves.
	prevN, prevInts := e.nBase, o.totals[:0]
	switch {
	case pos > 0:
		prevN, prevInts = e.n[pos-1], append(prevInts, e.ints[(pos-1)*p.nInts:pos*p.nInts]...)
	case e.base != nil:
		prevInts = append(prevInts, e.base...)
	default:
		prevInts = append(prevInts, make([]int64, p.nInts)...)
	}
	o.totals = prevInts
	e.idx = slices.Insert(e.idx, pos, idx)
	e.n = slices.Insert(e.n, pos, prevN)
	e.lastTs = slices.Insert(e.lastTs, pos, math.MinInt64)
	e.ints = slices.Insert(e.ints, pos*p.nInts, prevInts...)
	e.floats = slices.Insert(e.floats, pos*p.nFloats, make([]float64, p.nFloats)...)
	e.lasts = slices.Insert(e.lasts, pos*p.nLasts, make([]value, p.nLasts)...)
	o.schedule(idx, e)
	return pos
}

func (o *Operator) schedule(idx int64, e *entity) {
	if _, ok := o.pending[idx]; !ok {
		heap.Push(&o.order, idx)
	}
	o.pending[idx] = append(o.pending[idx], e)
}

// add adds row i (event time t) to e's tile at pos.
func (o *Operator) add(e *entity, pos, i int, t int64, cols []arrow.Array) {
	p := o.p
	for j := pos; j < len(e.n); j++ { // records mostly join the latest tile: this is one step
		e.n[j]++
	}
	floats := e.floats[pos*p.nFloats:]
	latest := t >= e.lastTs[pos]
	if latest {
		e.lastTs[pos] = t
	}
	for fi := range p.feats {
		f := &p.feats[fi]
		if pi := o.predOf[fi]; pi >= 0 && !o.masks[pi][i] {
			continue
		}
		switch f.kind {
		case kindCount, kindCountIf:
			e.addInt(pos, p.nInts, f.slot, 1)
		case kindSum, kindSumIf:
			c := cols[fi]
			if c.IsNull(i) {
				continue
			}
			if f.float {
				floats[f.slot] += c.(*array.Float64).Value(i)
			} else {
				e.addInt(pos, p.nInts, f.slot, c.(*array.Int64).Value(i))
			}
		case kindLast:
			if latest {
				e.lasts[pos*p.nLasts+f.slot] = valueOf(cols[fi], i, e.lasts[pos*p.nLasts+f.slot].s)
			}
		}
	}
}

// addInt adds v to integer slot of tile pos, and so to the running totals
// of every later tile.
func (e *entity) addInt(pos, nInts, slot int, v int64) {
	for j := pos*nInts + slot; j < len(e.ints); j += nInts {
		e.ints[j] += v
	}
}

// intSum is integer slot's sum over the tiles from position k to pos.
func (e *entity) intSum(k, pos, nInts, slot int) int64 {
	before := int64(0)
	if k > 0 {
		before = e.ints[(k-1)*nInts+slot]
	} else if e.base != nil {
		before = e.base[slot]
	}
	return e.ints[pos*nInts+slot] - before
}

// records is the number of records in the tiles from position k to pos.
func (e *entity) records(k, pos int) int64 {
	before := e.nBase
	if k > 0 {
		before = e.n[k-1]
	}
	return e.n[pos] - before
}

// valueOf is row i of c as a Last value; prev is the string it replaces,
// kept when equal so that a repeated value costs no copy.
func valueOf(c arrow.Array, i int, prev string) value {
	if c.IsNull(i) {
		return value{null: true}
	}
	switch a := c.(type) {
	case *array.String:
		if s := a.Value(i); s != prev {
			return value{s: strings.Clone(s)}
		}
		return value{s: prev}
	case *array.Int64:
		return value{i: a.Value(i)}
	case *array.Float64:
		return value{i: int64(math.Float64bits(a.Value(i)))}
	case *array.Timestamp:
		return value{i: int64(a.Value(i))}
	}
	return value{null: true}
}

// OnWatermark emits the rows of the tiles that end at or before wm, and
// drops the tiles no future row needs.
func (o *Operator) OnWatermark(_ context.Context, wm int64, emit pipeline.Emit) error {
	if wm <= o.wm {
		return nil
	}
	o.wm = wm
	wt := floorDiv(wm, o.p.tile)
	if wt <= o.wt {
		return nil
	}
	o.wt = wt
	out := newRows(o, pipeline.MainSide, emit)
	for o.order.Len() > 0 && o.order[0] < wt {
		idx := heap.Pop(&o.order).(int64)
		ents := o.pending[idx]
		delete(o.pending, idx)
		slices.SortFunc(ents, func(a, b *entity) int { return strings.Compare(a.key, b.key) })
		for _, e := range ents {
			pos, ok := slices.BinarySearch(e.idx, idx)
			if !ok {
				out.b.Release()
				return fmt.Errorf("tiles: %s: entity %q lost its pending tile %d", o.p.name, e.key, idx)
			}
			out.add(e, pos)
		}
	}
	o.tileRows += out.finish()
	o.prune()
	return nil
}

// prune drops the tiles at or before min(wt, latest tile) - the longest
// window, which no future row reads, and the entities whose latest tile is
// that far behind wt: a later record of theirs starts afresh, and none of the
// old tiles would be in its windows.
func (o *Operator) prune() {
	for k, e := range o.ents {
		last := e.idx[len(e.idx)-1]
		if last <= o.wt-o.p.maxOver {
			delete(o.ents, k)
			continue
		}
		keepAfter := min(o.wt, last) - o.p.maxOver
		if keepAfter < e.idx[0] {
			continue
		}
		n, _ := slices.BinarySearch(e.idx, keepAfter+1)
		o.dropFirst(e, n)
	}
}

func (o *Operator) dropFirst(e *entity, n int) {
	p := o.p
	e.nBase = e.n[n-1]
	e.base = append(e.base[:0], e.ints[(n-1)*p.nInts:n*p.nInts]...)
	e.idx = slices.Delete(e.idx, 0, n)
	e.n = slices.Delete(e.n, 0, n)
	e.lastTs = slices.Delete(e.lastTs, 0, n)
	e.ints = slices.Delete(e.ints, 0, n*p.nInts)
	e.floats = slices.Delete(e.floats, 0, n*p.nFloats)
	e.lasts = slices.Delete(e.lasts, 0, n*p.nLasts)
}

// floorDiv is a / b rounded down (b > 0).
// subSat is a-b, saturated at pipeline.MinTime.
func subSat(a, b int64) int64 {
	if a < pipeline.MinTime+b {
		return pipeline.MinTime
	}
	return a - b
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// idxHeap is a min-heap of tile indices.
type idxHeap []int64

func (h idxHeap) Len() int           { return len(h) }
func (h idxHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h idxHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *idxHeap) Push(x any)        { *h = append(*h, x.(int64)) }
func (h *idxHeap) Pop() any {
	old := *h
	v := old[len(old)-1]
	*h = old[:len(old)-1]
	return v
}
