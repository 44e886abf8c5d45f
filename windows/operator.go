package windows

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/shardflow/shardflow/internal/eventtime"
	"github.com/shardflow/shardflow/internal/take"
	"github.com/shardflow/shardflow/pipeline"
)

// Operator is the keyed operator of a window stage: a hash aggregation whose
// state is partial aggregates per source shard, per window, per key.
type Operator struct {
	p   *plan
	mem memory.Allocator

	filters    rowFilters // which rows each aggregate takes
	keys       *keyTable
	vdicts     []*dict // per aggregate: the value dict of a CountDistinct, else nil
	shards     map[string]*shardState
	byName     []*shardState // shards sorted by name, for deterministic merging
	wm         int64
	lastEnd    int64 // the end of the latest window fired, MinTime if none
	serial     uint32
	compact    int // dict size that triggers a compaction after firing
	minCompact int // floor of compact; tests lower it

	// bound is the job's out-of-orderness bound (OperatorEnv.Bound): a
	// row is late when its window ends at or before its own shard's
	// watermark, the highest event time of the shard up to the row
	// (Batch.Before, or the shard's rows that this operator saw if higher,
	// then the batch's rows in order) minus bound. That
	// depends on the shard's records alone, not on how fast the other
	// shards are read, so a bounded input has the same late rows on every
	// run. The job's watermark, the minimum of the shards', is never ahead
	// of a shard's own, so a window fires only once no shard can add an
	// on-time row to it; the exception is a shard released while idle, whose
	// on-time rows may find their window fired: they are late as well.
	bound int64
	// maxAhead is the job's guard against wild clocks (OperatorEnv.MaxAhead).
	maxAhead int64
	// lateness is the allowed lateness in milliseconds (AllowedLateness), 0
	// for none: a row whose window ends at or before its limit (lateLimits)
	// but less than lateness before goes to a correction of the window
	// (revisions.go) instead of being late.
	lateness int64

	// cache maps a key id to its slot in the window state last used for it.
	cacheSerial []uint32
	cacheSlot   []int32

	// Per-batch scratch.
	all    []int32 // 0, 1, 2, ...: the selection of a whole batch
	ts     []int64
	starts []int64
	kids   []uint32
	rows   []int32
	slots  []int32
	wins   []int32
	bwins  []*winState
	vids   []uint32
	limits []int64    // per row: its windows ending at or before it are late
	late   []int32    // the batch's late rows, with LateRows
	levels []levelRow // with panes: the batch's rows late for some windows of their pane

	// Merge scratch (OnWatermark).
	macc    []acc
	mkeys   []uint32
	mindex  map[uint32]int32
	slotMap []int32
	mset    *u64set
	mdense  []int32   // per merged group: its bitmap in mbits + 1, or 0
	mbits   []uint64  // merged bitmaps of dense groups
	setPool []*u64set // emptied sparse sets of fired windows, for new windows
	scratch []uint64

	rowsIn, lateRows, nullTimeRows, windowsFired int64

	st stateGuard // the state's limit and spill store (state.go, spill.go)

	// The instance's place among those of a job that runs the stage in
	// several partitions of the keys (part of nparts, 0 of 1 alone), what
	// they share, the windows it holds open (start -> shards) and its share
	// of the open windows counter.
	part, nparts int
	firings      *firings
	openStarts   map[int64]int
	openShare    int64
}

var (
	_ pipeline.KeyedOperator   = (*Operator)(nil)
	_ pipeline.CounterReporter = (*Operator)(nil)
)

// shardState is one source shard's partial aggregates. Slots index the
// columns of accs; a window owns the slots of its keys.
type shardState struct {
	name    string
	hi      int64 // the highest event time of the shard's rows seen, MinTime if none
	windows map[winKey]*winState
	accs    []acc
	free    []int32
	nslots  int32
}

// winKey names a window's state in a shard: its start, and 0 for its
// on-time rows or k for those of its k-th correction (AllowedLateness).
type winKey struct {
	start int64
	step  int32
}

// winState is one shard's partial aggregates of one window, or of one
// correction of it (step > 0).
type winState struct {
	start, end int64
	step       int32
	serial     uint32 // identifies the state in Operator.cacheSerial; never 0
	slots      map[uint32]int32
	keys       []uint32       // key id of each group, in order of arrival
	gslots     []int32        // slot of each group, parallel to keys
	dsets      []*distinctSet // per CountDistinct aggregate
}

const (
	minCompact = 1 << 16
	maxSetPool = 64
)

func newOperator(p *plan, env pipeline.OperatorEnv) (*Operator, error) {
	if env.Mem == nil {
		return nil, errors.New("windows: operator needs an allocator")
	}
	o := &Operator{p: p, mem: env.Mem, part: env.Partition, nparts: max(env.Partitions, 1), firings: firingsOf(env), bound: max(env.Bound, 0), maxAhead: max(env.MaxAhead, 0), lateness: p.lateness}
	var err error
	if o.filters, err = bindFilters(p.aggs, p.in); err != nil {
		return nil, err
	}
	if p.panes != nil && env.State.Spill != nil {
		return nil, fmt.Errorf("windows: %s: %w", p.name, errPanesSpill)
	}
	o.st = newStateGuard(p, env)
	o.reset()
	return o, nil
}

// reset drops all state.
func (o *Operator) reset() {
	if o.openStarts != nil {
		o.unregister()
	}
	o.openStarts = map[int64]int{}
	o.keys = newKeyTable(o.p.keyPhys)
	o.vdicts = make([]*dict, len(o.p.aggs))
	for i, ap := range o.p.aggs {
		if ap.kind == kindCountDistinct {
			o.vdicts[i] = newDict(ap.phys)
		}
	}
	o.shards = map[string]*shardState{}
	o.byName = nil
	o.wm, o.lastEnd = pipeline.MinTime, pipeline.MinTime
	o.serial = 0
	if o.minCompact == 0 {
		o.minCompact = minCompact
	}
	o.compact = o.minCompact
	o.cacheSerial, o.cacheSlot = nil, nil
	o.rowsIn, o.lateRows, o.nullTimeRows, o.windowsFired = 0, 0, 0, 0
}

// Counters implements pipeline.CounterReporter.
func (o *Operator) Counters() map[string]int64 {
	return map[string]int64{
		"rows_in":        o.rowsIn,
		"late_rows":      o.lateRows,
		"null_time_rows": o.nullTimeRows,
		"windows_fired":  o.windowsFired,
		"open_windows":   o.openShare,
		"state_bytes":    o.stateBytes(),
		"state_spills":   o.st.spills,
	}
}

func (o *Operator) shard(name string) *shardState {
	if sh, ok := o.shards[name]; ok {
		return sh
	}
	sh := &shardState{name: name, hi: pipeline.MinTime, windows: map[winKey]*winState{}, accs: make([]acc, len(o.p.aggs))}
	o.shards[name] = sh
	i, _ := slices.BinarySearchFunc(o.byName, name, func(s *shardState, n string) int {
		switch {
		case s.name < n:
			return -1
		case s.name > n:
			return 1
		}
		return 0
	})
	o.byName = slices.Insert(o.byName, i, sh)
	return sh
}

// window returns the state of the window at start in sh, creating it: of
// its on-time rows for step 0, else of its correction step.
func (o *Operator) window(sh *shardState, start, end int64, step int32) *winState {
	if ws, ok := sh.windows[winKey{start, step}]; ok {
		return ws
	}
	ws := &winState{start: start, end: end, step: step, serial: o.nextSerial(), slots: map[uint32]int32{}}
	ws.dsets = make([]*distinctSet, len(o.p.aggs))
	for i := range o.p.aggs {
		if o.vdicts[i] == nil {
			continue
		}
		d := &distinctSet{}
		if n := len(o.setPool); n > 0 {
			d.sparse, o.setPool = o.setPool[n-1], o.setPool[:n-1]
		} else {
			d.sparse = newU64Set(0)
		}
		ws.dsets[i] = d
	}
	sh.windows[winKey{start, step}] = ws
	o.opens(start)
	return ws
}

func (o *Operator) nextSerial() uint32 {
	o.serial++
	if o.serial == 0 { // wrapped: forget every cached slot
		clear(o.cacheSerial)
		o.serial = 1
	}
	return o.serial
}

// newGroup adds key kid to ws and returns its fresh slot.
func (o *Operator) newGroup(sh *shardState, ws *winState, kid uint32) int32 {
	var s int32
	if n := len(sh.free); n > 0 {
		s = sh.free[n-1]
		sh.free = sh.free[:n-1]
	} else {
		s = sh.nslots
		sh.nslots++
		for i := range sh.accs {
			sh.accs[i].grow(o.p.aggs[i].store)
		}
	}
	ws.slots[kid] = s
	ws.keys = append(ws.keys, kid)
	ws.gslots = append(ws.gslots, s)
	return s
}

// freeWindow returns ws's slots to sh and forgets ws.
func (o *Operator) freeWindow(sh *shardState, ws *winState) {
	for _, s := range ws.gslots {
		for i := range sh.accs {
			sh.accs[i].clearSlot(o.p.aggs[i].store, s)
		}
	}
	sh.free = append(sh.free, ws.gslots...)
	delete(sh.windows, winKey{ws.start, ws.step})
	o.closes(ws.start)
	// Recycle the distinct sets: a window's successor needs about as much room.
	for _, d := range ws.dsets {
		if d != nil && len(o.setPool) < maxSetPool {
			d.sparse.reset()
			o.setPool = append(o.setPool, d.sparse)
		}
	}
}

// lateLimits returns, for each row of ts, the end at or before which a
// window of the row has passed for it (it is late, or with AllowedLateness
// a correction): the job's watermark (later windows have not fired) or the
// row's own shard's watermark, the highest event time of the shard up to
// and including the row (from hi on) minus the bound, whichever is higher. Null times (valid
// false) do not move the shard's clock. It reuses o.limits and returns the
// shard's highest event time after the rows.
//
// A row more than maxAhead past arrival (Batch.Arrival; with both set) is
// wild: it does not move the clock and every window of it is late.
func (o *Operator) lateLimits(ts []int64, tcol arrow.Array, hi, arrival int64) ([]int64, int64) {
	o.limits = grow(o.limits, len(ts))
	lim, fired, bound := o.limits, o.wm, o.bound
	wild := pipeline.MaxTime
	if o.maxAhead > 0 && arrival > 0 {
		wild = arrival + o.maxAhead
	}
	if tcol.NullN() == 0 && wild == pipeline.MaxTime {
		for i, t := range ts {
			hi = max(hi, t)
			lim[i] = max(fired, subSat(hi, bound))
		}
		return lim, hi
	}
	for i, t := range ts {
		if t > wild && tcol.IsValid(i) {
			lim[i] = pipeline.MaxTime
			continue
		}
		if tcol.IsValid(i) {
			hi = max(hi, t)
		}
		lim[i] = max(fired, subSat(hi, bound))
	}
	return lim, hi
}

// Process implements pipeline.Operator: it folds b's rows into the state of
// b's shard and releases b. It emits only late rows, on LateSide, with
// LateRows; windows fire on watermarks.
func (o *Operator) Process(_ context.Context, b *pipeline.Batch, emit pipeline.Emit) error {
	defer b.Release()
	if b.Len() == 0 {
		return nil
	}
	rec := b.Rec
	if s := rec.Schema(); s != o.p.in && !s.Equal(o.p.in) {
		return fmt.Errorf("windows: %s: batch schema %s differs from the bound schema", o.p.name, s)
	}
	n := int(rec.NumRows())
	o.levels = o.levels[:0]
	sel := b.Selected(&o.all)
	o.rowsIn += int64(len(sel))
	sh := o.shard(b.Shard)
	f := o.p.fanout

	tcol := rec.Column(o.p.timeCol)
	ts := eventtime.Millis(tcol.(*array.Timestamp), &o.ts)
	var limits []int64
	limits, sh.hi = o.lateLimits(ts, tcol, max(b.Before, sh.hi), b.Arrival)
	o.starts = grow(o.starts, n*f)
	o.p.assigner.Assign(ts, o.starts)
	o.kids = grow(o.kids, n)
	o.keys.lookup(rec, o.p.keyCols, sel, o.kids)
	if nk := o.keys.len(); nk > len(o.cacheSerial) {
		o.cacheSerial = append(o.cacheSerial, make([]uint32, nk-len(o.cacheSerial))...)
		o.cacheSlot = append(o.cacheSlot, make([]int32, nk-len(o.cacheSlot))...)
	}

	o.rows, o.slots, o.wins = grow(o.rows, len(sel)*f), grow(o.slots, len(sel)*f), grow(o.wins, len(sel)*f)
	rows, slots, wins := o.rows, o.slots, o.wins
	o.bwins = o.bwins[:0]
	var ws *winState
	wi := int32(-1)
	m := 0
	nullTime := tcol.NullN() > 0
	starts, kids, size := o.starts, o.kids, o.p.size
	cacheSerial, cacheSlot := o.cacheSerial, o.cacheSlot
	for _, r := range sel {
		i := int(r)
		if nullTime && tcol.IsNull(i) {
			o.nullTimeRows++
			continue
		}
		kept := false
		limit := limits[i]
		for j := i * f; j < i*f+f; j++ {
			st := starts[j]
			if ws == nil || st != ws.start || ws.step != 0 {
				end := windowEnd(st, size)
				if end <= limit {
					if end+o.lateness <= limit {
						kept = o.partlyLate(i, end, limit) || kept
						continue
					}
					ws, wi = o.batchWindow(sh, st, end, o.stepOf(end, limit))
				} else {
					ws, wi = o.batchWindow(sh, st, end, 0)
				}
			} else if ws.end <= limit {
				if ws.end+o.lateness <= limit {
					kept = o.partlyLate(i, ws.end, limit) || kept
					continue
				}
				ws, wi = o.batchWindow(sh, st, ws.end, o.stepOf(ws.end, limit))
			}
			kid := kids[i]
			var s int32
			if cacheSerial[kid] == ws.serial {
				s = cacheSlot[kid]
			} else {
				var ok bool
				if s, ok = ws.slots[kid]; !ok {
					s = o.newGroup(sh, ws, kid)
				}
				cacheSerial[kid], cacheSlot[kid] = ws.serial, s
			}
			rows[m], slots[m], wins[m] = int32(i), s, wi
			m++
			kept = true
		}
		if !kept {
			o.lateRows++
			if o.p.late {
				o.late = append(o.late, int32(i))
			}
		}
	}
	if len(o.late) > 0 {
		if err := o.emitLate(b, emit); err != nil {
			return err
		}
	}
	if m == 0 && len(o.levels) == 0 {
		return nil
	}
	if m > 0 {
		if err := o.aggregate(sh, rec, sel, ts, rows[:m], slots[:m], wins[:m]); err != nil {
			return err
		}
	}
	if len(o.levels) > 0 {
		if err := o.foldLevels(b.Shard, rec, ts); err != nil { // panes.go
			return err
		}
	}
	return o.checkState()
}

// aggregate folds the rows of rec into the slots of sh's windows o.bwins:
// row rows[j] into slot slots[j] of window wins[j]. sel holds every row
// among them.
func (o *Operator) aggregate(sh *shardState, rec arrow.RecordBatch, sel []int32, ts []int64, rows, slots, wins []int32) error {
	if err := o.filters.match(o.p.name, rec, int(rec.NumRows())); err != nil {
		return err
	}
	for ai := range o.p.aggs {
		ap := &o.p.aggs[ai]
		keep, arr := o.filters.keepOf(ai, ap, rec)
		a := &sh.accs[ai]
		switch ap.kind {
		case kindCount:
			cnt := a.n
			for _, s := range slots {
				cnt[s]++
			}
		case kindCountIf:
			cnt := a.n
			for j, r := range rows {
				if keep[r] {
					cnt[slots[j]]++
				}
			}
		case kindCountDistinct:
			if o.st.spilled(ai) {
				o.spillRows(sh, ai, arr, keep, rows, wins)
				continue
			}
			o.addDistinct(ai, a, arr, keep, sel, rows, slots, wins)
		case kindFirst, kindLast:
			addFirstLast(ap, a, arr, ts, keep, rows, slots)
		default:
			ap.update(a, arr, keep, rows, slots)
		}
	}
	return nil
}

// emitLate emits the rows o.late of b on LateSide and forgets them.
func (o *Operator) emitLate(b *pipeline.Batch, emit pipeline.Emit) error {
	defer func() { o.late = o.late[:0] }()
	rec, err := take.Record(o.mem, b.Rec, o.late)
	if err != nil {
		return fmt.Errorf("windows: %s: late rows: %w", o.p.name, err)
	}
	if emit == nil {
		rec.Release()
		return nil
	}
	lb := &pipeline.Batch{Rec: rec, Shard: b.Shard, First: b.First, Last: b.Last, Side: LateSide, Before: b.Before}
	lb.MinTime, lb.MaxTime = b.MinTime, b.MaxTime
	emit(lb)
	return nil
}

// addDistinct folds the values of arr at rows into the distinct sets of
// aggregate ai.
func (o *Operator) addDistinct(ai int, a *acc, arr arrow.Array, keep []bool, sel, rows, slots, wins []int32) {
	d := o.vdicts[ai]
	o.vids = grow(o.vids, arr.Len())
	d.lookup(arr, sel, o.vids, false)
	turning := addDistinctRows(o.bwins, ai, a, o.vids, keep, rows, slots, wins, denseAt(d.len()))
	for wi, ws := range o.bwins {
		if turning&(1<<(uint(wi)&63)) != 0 {
			o.scratch = ws.dsets[ai].densify(a, ws, d.len(), o.scratch)
		}
	}
}

// batchWindow returns the state of window start for this batch and its index
// in o.bwins.
func (o *Operator) batchWindow(sh *shardState, start, end int64, step int32) (*winState, int32) {
	for i, ws := range o.bwins {
		if ws.start == start && ws.step == step {
			return ws, int32(i)
		}
	}
	ws := o.window(sh, start, end, step)
	o.bwins = append(o.bwins, ws)
	return ws, int32(len(o.bwins) - 1)
}

// grow returns s with length n, reusing its array when it is large enough.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n, n+n/4)
	}
	return s[:n]
}
