package windows

import (
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/shardflow/shardflow/pipeline"
)

var _ pipeline.PartitionedOperator = (*Operator)(nil)

// firings is what the instances of a window stage share when the job runs it
// in several partitions of the keys (pipeline.OperatorGroup): which windows
// are open in any of them, and which windows each watermark fired in any, so
// that windows_fired and open_windows, summed over the instances as the job
// does, count windows and not instances. Each instance's counters hold its
// share: the instance that opens a window first counts it open, the one that
// frees it last counts it closed, and the last to see a watermark counts the
// windows it fired everywhere.
type firings struct {
	n     int // instances
	mu    sync.Mutex
	open  map[int64]int      // window start -> instances that hold it open
	fired map[int64]*firedAt // by watermark
}

// firedAt is what the instances that have seen one watermark fired at it.
type firedAt struct {
	seen   int                // instances
	starts map[int64]struct{} // window starts
}

func newFirings(n int) *firings {
	return &firings{n: max(n, 1), open: map[int64]int{}, fired: map[int64]*firedAt{}}
}

// firingsOf returns the firings shared by the instances of env's group.
func firingsOf(env pipeline.OperatorEnv) *firings {
	if env.Group == nil || env.Partitions <= 1 {
		return newFirings(1)
	}
	return env.Group.Shared("windows.firings", func() any { return newFirings(env.Partitions) }).(*firings)
}

// opened notes that an instance opened window start, which it did not hold
// open; it returns the change to that instance's share of open windows.
func (f *firings) opened(start int64) int64 {
	if f.n == 1 {
		return 1
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.open[start]++
	if f.open[start] == 1 {
		return 1
	}
	return 0
}

// closed notes that an instance no longer holds window start open.
func (f *firings) closed(start int64) int64 {
	if f.n == 1 {
		return -1
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.open[start]--
	if f.open[start] > 0 {
		return 0
	}
	delete(f.open, start)
	return -1
}

// fire notes that an instance saw watermark wm, at which it fired the windows
// starts (distinct); it returns the windows the instance is credited with:
// the number fired anywhere at wm if it is the last instance to see wm, else
// 0. Every instance sees every watermark of the job once, in the same order.
func (f *firings) fire(wm int64, starts []int64) int64 {
	if f.n == 1 {
		return int64(len(starts))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.fired[wm]
	if e == nil {
		e = &firedAt{starts: map[int64]struct{}{}}
		f.fired[wm] = e
	}
	for _, s := range starts {
		e.starts[s] = struct{}{}
	}
	if e.seen++; e.seen < f.n {
		return 0
	}
	delete(f.fired, wm)
	return int64(len(e.starts))
}

// opens counts window start open in o when its first shard opens it.
func (o *Operator) opens(start int64) {
	o.openStarts[start]++
	if o.openStarts[start] == 1 {
		o.openShare += o.firings.opened(start)
	}
}

// closes counts window start closed in o when its last shard frees it.
func (o *Operator) closes(start int64) {
	o.openStarts[start]--
	if o.openStarts[start] == 0 {
		delete(o.openStarts, start)
		o.openShare += o.firings.closed(start)
	}
}

// unregister tells the shared firings that o holds no window open, before
// its state is replaced; reregister undoes it.
func (o *Operator) unregister() {
	for start := range o.openStarts {
		o.openShare += o.firings.closed(start)
	}
}

func (o *Operator) reregister() {
	for start := range o.openStarts {
		o.openShare += o.firings.opened(start)
	}
}

// adopt replaces o's state with t's, a temporary operator of the same stage
// and group that restored a snapshot; o has unregistered.
func (o *Operator) adopt(t *Operator) {
	o.keys, o.vdicts, o.shards, o.byName = t.keys, t.vdicts, t.shards, t.byName
	o.wm, o.serial, o.compact = t.wm, t.serial, t.compact
	o.cacheSerial, o.cacheSlot = nil, nil
	o.rowsIn, o.lateRows, o.nullTimeRows, o.windowsFired = t.rowsIn, t.lateRows, t.nullTimeRows, t.windowsFired
	o.openStarts = t.openStarts
	o.openShare += t.openShare
	if err := o.st.close(); err != nil { // the store held the replaced state
		o.st.err = err
	}
}

// temp returns an empty operator of o's stage for restoring into, sharing
// f's firings.
func (o *Operator) temp(f *firings) *Operator {
	t := &Operator{p: o.p, mem: o.mem, minCompact: o.minCompact, firings: f, part: o.part, nparts: o.nparts}
	t.reset()
	return t
}

// absorb merges the groups of src, another operator of the same stage, whose
// keys land in o's partition into o's state.
func (o *Operator) absorb(src *Operator) {
	own := make([]int8, src.keys.len()) // per src key id: 0 unknown, 1 o's, -1 another partition's
	owns := func(kid uint32) bool {
		if own[kid] == 0 {
			own[kid] = -1
			if keyHash(src.keys, kid).Partition(o.nparts) == o.part {
				own[kid] = 1
			}
		}
		return own[kid] > 0
	}
	for _, ssh := range src.byName {
		o.absorbShard(src, ssh, owns)
	}
}

// absorbShard merges the groups of ssh, a shard of src, whose keys owns
// accepts into o's state.
func (o *Operator) absorbShard(src *Operator, ssh *shardState, owns func(kid uint32) bool) {
	aggs := o.p.aggs
	var sh *shardState
	for _, wk := range sortedWindows(ssh) {
		sws := ssh.windows[wk]
		var ws *winState
		slotOf := map[int32]int32{} // src slot -> o's slot, for the groups o takes
		for g, skid := range sws.keys {
			if !owns(skid) {
				continue
			}
			if ws == nil {
				if sh == nil {
					sh = o.shard(ssh.name)
				}
				ws = o.window(sh, sws.start, sws.end, sws.step)
			}
			kid := o.keys.internFrom(src.keys, skid)
			s, ok := ws.slots[kid]
			if !ok {
				s = o.newGroup(sh, ws, kid)
			}
			ss := sws.gslots[g]
			slotOf[ss] = s
			for a := range aggs {
				if aggs[a].kind != kindCountDistinct {
					mergeSlot(&aggs[a], &sh.accs[a], s, &ssh.accs[a], ss)
				}
			}
		}
		if ws == nil {
			continue
		}
		for a := range aggs {
			if o.vdicts[a] == nil {
				continue
			}
			ds, da := ws.dsets[a], &sh.accs[a]
			turning := false
			sws.dsets[a].each(&ssh.accs[a], sws, func(ss int32, v uint32) {
				s, ok := slotOf[ss]
				if !ok {
					return
				}
				nv := o.vdicts[a].internFrom(src.vdicts[a], v)
				turning = ds.add(da, s, nv, denseAt(o.vdicts[a].len())) || turning
			})
			if turning {
				o.scratch = ds.densify(da, ws, o.vdicts[a].len(), o.scratch)
			}
		}
	}
}

// keyHash is the pipeline.KeyHash of key id kid, the hash by which the job
// placed its rows in a partition.
func keyHash(k *keyTable, kid uint32) pipeline.KeyHash {
	h := pipeline.NewKeyHash()
	for c, d := range k.cols {
		id := k.colID(kid, c)
		switch {
		case d.isNull(id):
			h = h.Null()
		case d.phys.isString():
			h = h.String(d.str(id))
		default:
			h = h.Int(uint64(d.intVals[id]))
		}
	}
	return h
}

var _ pipeline.ShardSnapshotter = (*Operator)(nil)

// SnapshotShards implements pipeline.ShardSnapshotter: common holds what is
// the instance's own (its watermark and counters), and each shard's part is a
// snapshot of an operator that holds that shard's windows alone, with the
// keys and values they use, so that it restores without the others.
func (o *Operator) SnapshotShards() (common []byte, shards map[string][]byte, err error) {
	c := o.temp(newFirings(1))
	c.wm, c.compact = o.wm, o.compact
	c.rowsIn, c.lateRows, c.nullTimeRows, c.windowsFired = o.rowsIn, o.lateRows, o.nullTimeRows, o.windowsFired
	if common, err = c.Snapshot(); err != nil {
		return nil, nil, err
	}
	all := func(uint32) bool { return true }
	shards = make(map[string][]byte, len(o.byName))
	for i := 0; i < len(o.byName); {
		// A shard's states: its own and, with panes, its levels (panes.go),
		// which sort right after it.
		name, _ := shardLevel(o.byName[i].name)
		t := o.temp(newFirings(1))
		t.wm, t.compact = o.wm, o.compact
		for ; i < len(o.byName); i++ {
			sh := o.byName[i]
			if base, _ := shardLevel(sh.name); base != name {
				break
			}
			t.absorbShard(o, sh, all)
			if id, ok := o.st.ids[sh.name]; ok { // no levels: panes do not spill
				t.st.src, t.st.srcShard = o, id
			}
		}
		if shards[name], err = t.Snapshot(); err != nil {
			return nil, nil, err
		}
	}
	return common, shards, nil
}

// RestoreShards implements pipeline.ShardSnapshotter: it restores commons
// (whole snapshots too) and the shards' parts, keeping the keys of o's
// partition. commons may come from a run with any number of instances; the
// counters they hold go to the instance of partition 0, so that the
// instances' sum is that run's. On error the state is left as it was.
func (o *Operator) RestoreShards(commons [][]byte, shards map[string][][]byte) error {
	o.unregister()
	t := o.temp(o.firings)
	fail := func(err error) error {
		t.unregister()
		o.reregister()
		return err
	}
	t.wm = pipeline.MinTime
	for i, common := range commons {
		c := o.temp(newFirings(1))
		if err := c.Restore(common); err != nil {
			return fail(fmt.Errorf("partition %d of %d: %w", i, len(commons), err))
		}
		t.absorb(c)
		t.wm, t.compact = max(t.wm, c.wm), max(t.compact, c.compact)
		if o.part == 0 {
			t.rowsIn += c.rowsIn
			t.lateRows += c.lateRows
			t.nullTimeRows += c.nullTimeRows
			t.windowsFired += c.windowsFired
		}
	}
	for _, name := range slices.Sorted(maps.Keys(shards)) {
		for _, part := range shards[name] {
			src := o.temp(newFirings(1))
			if err := src.Restore(part); err != nil {
				return fail(fmt.Errorf("shard %s: %w", name, err))
			}
			for _, sh := range src.byName {
				if base, _ := shardLevel(sh.name); base != name {
					return fail(fmt.Errorf("shard %s: %w: the part holds other shards", name, ErrCorruptSnapshot))
				}
			}
			t.absorb(src)
		}
	}
	o.adopt(t)
	return nil
}
