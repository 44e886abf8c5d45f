package windows

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/shardflow/shardflow/internal/eventtime"
	"github.com/shardflow/shardflow/pipeline"
)

// SessionOperator is the keyed operator of a session window stage. Its state
// is, per source shard, the partial sessions of each key that the shard's
// rows make: one key's rows may come from several shards, and each shard's
// partial sessions are merged with the others' (chained by the gap) only when
// the watermark closes them, so that a shard's state can be saved and moved
// alone.
//
// Invariants: within a shard, a key's partial sessions are more than the gap
// apart and listed by start; every session held is part of a session (across
// shards) that is still open; every key that has a session has one entry in
// the deadline heap, due no later than the earliest close of its sessions.
type SessionOperator struct {
	p   *sessionPlan
	mem memory.Allocator

	filters rowFilters // which rows each aggregate takes
	keys    *keyTable
	sdicts  []*dict // per aggregate: the value dict of a string First or Last or of a CountDistinct, else nil
	shards  map[string]*sessShard
	byName  []*sessShard
	heap    deadlines
	inHeap  []bool  // per key id: whether the key is scheduled
	kdue    []int64 // per key id: the due of its live entry in heap

	wm         int64
	compact    int
	minCompact int

	rowsIn, lateRows, nullTimeRows, fired, held int64

	part, nparts int

	// Per-batch scratch.
	all      []int32
	ts       []int64
	kids     []uint32
	rows     []int32
	slots    []int32
	pendSrc  []int32 // sessions merged into pendDst during the batch, merged after its updates
	pendDst  []int32
	pendFree []int32
	vids     []uint32
	sink     int64 // keeps the reads of touch

	// Firing scratch.
	parts  []sessPart
	merges []sessMerge
	mdv    [][]uint32
	macc   []acc
	out    []firedSession
}

var (
	_ pipeline.KeyedOperator       = (*SessionOperator)(nil)
	_ pipeline.PartitionedOperator = (*SessionOperator)(nil)
	_ pipeline.CounterReporter     = (*SessionOperator)(nil)
)

// sessShard is one source shard's partial sessions. Slots index the columns
// of accs and sess.
type sessShard struct {
	name string
	head []int32 // per key id: slot+1 of the key's first session, 0 for none
	sess []session
	accs []acc
	dv   [][][]uint32 // per CountDistinct aggregate, per slot: the sorted value ids
	free []int32
	live int
}

// session is one partial session: [first, last] of its key's rows in a shard.
type session struct {
	first, last int64
	kid         uint32
	next        int32 // slot+1 of the key's next session in the shard, 0 for none
}

// sessPart is a partial session being fired.
type sessPart struct {
	sh          int // index in byName
	slot        int32
	first, last int64
}

// firedSession is a merged session ready for output.
type firedSession struct {
	start, end int64
	kid        uint32
	g          int32 // slot in macc
}

func newSessionOperator(p *sessionPlan, env pipeline.OperatorEnv) (*SessionOperator, error) {
	if env.Mem == nil {
		return nil, errors.New("windows: operator needs an allocator")
	}
	o := &SessionOperator{p: p, mem: env.Mem, part: env.Partition, nparts: max(env.Partitions, 1)}
	var err error
	if o.filters, err = bindFilters(p.aggs, p.in); err != nil {
		return nil, err
	}
	o.reset()
	return o, nil
}

func (o *SessionOperator) reset() {
	o.keys = newKeyTable(o.p.keyPhys)
	o.sdicts = make([]*dict, len(o.p.aggs))
	for i, ap := range o.p.aggs {
		if o.p.strs[i] || o.p.dist[i] {
			o.sdicts[i] = newDict(ap.phys)
		}
	}
	o.shards = map[string]*sessShard{}
	o.byName = nil
	o.heap = o.heap[:0]
	o.inHeap, o.kdue = nil, nil
	o.wm = pipeline.MinTime
	if o.minCompact == 0 {
		o.minCompact = minCompact
	}
	o.compact = o.minCompact
	o.rowsIn, o.lateRows, o.nullTimeRows, o.fired, o.held = 0, 0, 0, 0, 0
}

// Counters implements pipeline.CounterReporter: windows_fired counts the
// sessions emitted, open_sessions the partial sessions held (per shard).
func (o *SessionOperator) Counters() map[string]int64 {
	return map[string]int64{
		"rows_in":        o.rowsIn,
		"late_rows":      o.lateRows,
		"null_time_rows": o.nullTimeRows,
		"windows_fired":  o.fired,
		"open_sessions":  o.held,
	}
}

func (o *SessionOperator) shard(name string) *sessShard {
	if sh, ok := o.shards[name]; ok {
		return sh
	}
	sh := &sessShard{name: name, accs: make([]acc, len(o.p.aggs)), dv: make([][][]uint32, len(o.p.aggs))}
	o.shards[name] = sh
	i, _ := slices.BinarySearchFunc(o.byName, name, func(s *sessShard, n string) int {
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

// addSat is a+b for b >= 0, saturating at MaxInt64.
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// near reports whether t is within the gap of [first, last].
func (o *SessionOperator) near(t, first, last int64) bool {
	return t <= addSat(last, o.p.gap) && first <= addSat(t, o.p.gap)
}

// closed reports whether a session whose last row is at last has closed at
// watermark wm.
func (o *SessionOperator) closedAt(last, wm int64) bool { return addSat(last, o.p.gap) < wm }

// alloc returns a fresh, zeroed slot of sh for a session of key kid.
func (o *SessionOperator) alloc(sh *sessShard, kid uint32, first, last int64) int32 {
	var s int32
	if n := len(sh.free); n > 0 {
		s = sh.free[n-1]
		sh.free = sh.free[:n-1]
		sh.sess[s] = session{first: first, last: last, kid: kid}
	} else {
		s = int32(len(sh.sess))
		sh.sess = append(sh.sess, session{first: first, last: last, kid: kid})
		for i := range sh.accs {
			sh.accs[i].grow(o.p.aggs[i].store)
			if o.p.dist[i] {
				sh.dv[i] = append(sh.dv[i], nil)
			}
		}
	}
	sh.live++
	o.held++
	return s
}

// release zeroes slot s of sh and returns it to the free list.
func (o *SessionOperator) release(sh *sessShard, s int32) {
	for i := range sh.accs {
		sh.accs[i].clearSlot(o.p.aggs[i].store, s)
		if o.p.dist[i] {
			sh.dv[i][s] = sh.dv[i][s][:0]
		}
	}
	sh.sess[s] = session{kid: noKey}
	sh.free = append(sh.free, s)
	sh.live--
	o.held--
}

// link inserts slot s (a session of key kid) into kid's list in sh, by start.
func (o *SessionOperator) link(sh *sessShard, kid uint32, s int32) {
	if int(kid) >= len(sh.head) {
		sh.head = append(sh.head, make([]int32, o.keys.len()-len(sh.head))...)
	}
	p := &sh.head[kid]
	for *p != 0 && sh.sess[*p-1].first < sh.sess[s].first {
		p = &sh.sess[*p-1].next
	}
	sh.sess[s].next = *p
	*p = s + 1
	o.schedule(kid, addSat(sh.sess[s].last, o.p.gap))
}

// schedule makes sure key kid has an entry in the deadline heap due no later
// than due. An entry it supersedes stays in the heap and is skipped.
func (o *SessionOperator) schedule(kid uint32, due int64) {
	if int(kid) >= len(o.inHeap) {
		n := o.keys.len() - len(o.inHeap)
		o.inHeap = append(o.inHeap, make([]bool, n)...)
		o.kdue = append(o.kdue, make([]int64, n)...)
	}
	if !o.inHeap[kid] || due < o.kdue[kid] {
		o.inHeap[kid], o.kdue[kid] = true, due
		o.heap.push(deadline{due: due, kid: kid})
	}
}

// mergeInto folds the partials of slot src of sh into slot dst.
func (o *SessionOperator) mergeInto(sh *sessShard, dst, src int32) {
	for a := range o.p.aggs {
		mergeSlot(&o.p.aggs[a], &sh.accs[a], dst, &sh.accs[a], src)
		if o.p.dist[a] {
			sh.dv[a][dst] = unionIDs(sh.dv[a][dst], sh.dv[a][src])
			sh.accs[a].n[dst] = int64(len(sh.dv[a][dst]))
		}
	}
}

// addID adds v to the sorted set ids.
func addID(ids []uint32, v uint32) []uint32 {
	i, found := slices.BinarySearch(ids, v)
	if found {
		return ids
	}
	return slices.Insert(ids, i, v)
}

// unionIDs adds the sorted set b to the sorted set a.
func unionIDs(a, b []uint32) []uint32 {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return append(a, b...)
	}
	out := make([]uint32, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			out = append(out, a[i])
			i++
		case a[i] > b[j]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// Process implements pipeline.Operator: it folds b's rows into the partial
// sessions of b's shard and releases b. It emits nothing; sessions close on
// watermarks.
func (o *SessionOperator) Process(_ context.Context, b *pipeline.Batch, _ pipeline.Emit) error {
	defer b.Release()
	if b.Len() == 0 {
		return nil
	}
	rec := b.Rec
	if s := rec.Schema(); s != o.p.in && !s.Equal(o.p.in) {
		return fmt.Errorf("windows: %s: batch schema %s differs from the bound schema", o.p.name, s)
	}
	n := int(rec.NumRows())
	sel := b.Selected(&o.all)
	o.rowsIn += int64(len(sel))
	sh := o.shard(b.Shard)

	tcol := rec.Column(o.p.timeCol)
	ts := eventtime.Millis(tcol.(*array.Timestamp), &o.ts)
	o.kids = grow(o.kids, n)
	o.keys.lookup(rec, o.p.keyCols, sel, o.kids)
	if nk := o.keys.len(); nk > len(sh.head) {
		sh.head = append(sh.head, make([]int32, nk-len(sh.head)+nk/4)...)
	}
	o.rows, o.slots = grow(o.rows, len(sel)), grow(o.slots, len(sel))
	rows, slots := o.rows, o.slots
	o.pendSrc, o.pendDst, o.pendFree = o.pendSrc[:0], o.pendDst[:0], o.pendFree[:0]
	m := 0
	nullTime := tcol.NullN() > 0
	gap, kids := o.p.gap, o.kids
	o.touch(sh, sel)
	for _, r := range sel {
		i := int(r)
		if nullTime && tcol.IsNull(i) {
			o.nullTimeRows++
			continue
		}
		t, kid := ts[i], kids[i]
		// The common case: the key has one session in the shard and the
		// row falls within the gap of it.
		if h := sh.head[kid]; h != 0 {
			se := &sh.sess[h-1]
			if se.next == 0 && t <= addSat(se.last, gap) && se.first <= addSat(t, gap) {
				se.first, se.last = min(se.first, t), max(se.last, t)
				rows[m], slots[m] = r, h-1
				m++
				continue
			}
		}
		s, ok := o.assign(sh, kid, t)
		if !ok {
			o.lateRows++
			continue
		}
		rows[m], slots[m] = r, s
		m++
	}
	if m > 0 {
		if err := o.update(sh, rec, n, ts, sel, rows[:m], slots[:m]); err != nil {
			return err
		}
	}
	for j, src := range o.pendSrc {
		o.mergeInto(sh, o.pendDst[j], src)
	}
	for _, s := range o.pendFree {
		o.release(sh, s)
	}
	return nil
}

// touch reads the session state that the rows of sel will use. The state of
// many keys is much larger than the cache, and the main loop, with its
// branches and the dependent reads of a key's list and then its session,
// waits for one miss at a time; these loops, whose iterations do not depend
// on each other, let the CPU wait for many at once.
func (o *SessionOperator) touch(sh *sessShard, sel []int32) {
	const chunk = 256
	var hs [chunk]int32
	var sink int64
	head, sess, kids := sh.head, sh.sess, o.kids
	for len(sel) > 0 {
		c := sel[:min(len(sel), chunk)]
		sel = sel[len(c):]
		for k, r := range c {
			hs[k] = head[kids[r]]
		}
		for _, h := range hs[:len(c)] {
			if h != 0 {
				sink += sess[h-1].last
			}
		}
	}
	o.sink = sink
}

// assign finds or makes the session of key kid in sh that a row at t joins,
// merging the sessions it bridges; ok is false for a late row.
func (o *SessionOperator) assign(sh *sessShard, kid uint32, t int64) (slot int32, ok bool) {
	p := &sh.head[kid]
	for *p != 0 {
		s := *p - 1
		se := &sh.sess[s]
		if t > addSat(se.last, o.p.gap) {
			p = &se.next
			continue
		}
		if !o.near(t, se.first, se.last) {
			break // t is before the session, beyond the gap
		}
		se.first, se.last = min(se.first, t), max(se.last, t)
		// Sessions are more than the gap apart, so t bridges at most this
		// one and the next.
		if nx := se.next; nx != 0 && o.near(t, sh.sess[nx-1].first, sh.sess[nx-1].last) {
			ns := &sh.sess[nx-1]
			se.last = max(se.last, ns.last)
			se.next = ns.next
			// The rows of this batch already in nx are folded in after
			// the batch's updates; until then nx stays allocated.
			o.pendSrc = append(o.pendSrc, nx-1)
			o.pendDst = append(o.pendDst, s)
			o.pendFree = append(o.pendFree, nx-1)
			// A merge whose destination was merged earlier in the batch
			// goes on to where that one went.
			for j := range o.pendDst {
				if o.pendDst[j] == nx-1 {
					o.pendDst[j] = s
				}
			}
		}
		return s, true
	}
	if o.closedAt(t, o.wm) && !o.joinsElsewhere(sh, kid, t) {
		return 0, false
	}
	s := o.alloc(sh, kid, t, t)
	o.link(sh, kid, s)
	return s, true
}

// joinsElsewhere reports whether a row at t of key kid falls within the gap
// of a session of the key in a shard other than sh, which then keeps it open.
func (o *SessionOperator) joinsElsewhere(sh *sessShard, kid uint32, t int64) bool {
	for _, other := range o.byName {
		if other == sh || int(kid) >= len(other.head) {
			continue
		}
		for h := other.head[kid]; h != 0; h = other.sess[h-1].next {
			if se := &other.sess[h-1]; o.near(t, se.first, se.last) {
				return true
			}
		}
	}
	return false
}

// update folds the values of rows into their sessions' slots in sh.
func (o *SessionOperator) update(sh *sessShard, rec arrow.RecordBatch, n int, ts []int64, sel, rows, slots []int32) error {
	if err := o.filters.match(o.p.name, rec, n); err != nil {
		return err
	}
	for ai := range o.p.aggs {
		ap := &o.p.aggs[ai]
		keep, arr := o.filters.keepOf(ai, ap, rec)
		a := &sh.accs[ai]
		switch {
		case ap.kind == kindCount:
			cnt := a.n
			for _, s := range slots {
				cnt[s]++
			}
		case ap.kind == kindCountIf:
			cnt := a.n
			for j, r := range rows {
				if keep[r] {
					cnt[slots[j]]++
				}
			}
		case o.p.dist[ai]:
			o.vids = grow(o.vids, n)
			o.sdicts[ai].lookup(arr, sel, o.vids, false)
			dv, cnt := sh.dv[ai], a.n
			for j, r := range rows {
				if keep == nil || keep[r] {
					s := slots[j]
					dv[s] = addID(dv[s], o.vids[r])
					cnt[s] = int64(len(dv[s]))
				}
			}
		case o.p.strs[ai]:
			addFirstLastStrings(ap.kind == kindFirst, a, o.sdicts[ai], arr, ts, keep, rows, slots)
		case ap.kind == kindFirst || ap.kind == kindLast:
			addFirstLast(ap, a, arr, ts, keep, rows, slots)
		default:
			ap.update(a, arr, keep, rows, slots)
		}
	}
	return nil
}

// addFirstLastStrings is addFirstLast for a string column, whose values are
// kept in a.i as ids of d. Only the rows that take the place of a session's
// value are looked up in d: for First, few of them.
func addFirstLastStrings(isFirst bool, a *acc, d *dict, arr arrow.Array, ts []int64, keep []bool, rows, slots []int32) {
	var get func(int) string
	switch arr := arr.(type) {
	case *array.String:
		get = arr.Value
	case *array.LargeString:
		get = arr.Value
	}
	n, t, v := a.n, a.t, a.i
	for j, r := range rows {
		if keep != nil && !keep[r] {
			continue
		}
		s, tr := slots[j], ts[r]
		if n[s] == 0 || (isFirst && tr < t[s]) || (!isFirst && tr >= t[s]) {
			t[s], v[s] = tr, int64(d.internString(get(int(r))))
		}
		n[s]++
	}
}
