package windows

import (
	"encoding/binary"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/shardflow/shardflow/pipeline"
)

// stateGuard is what an Operator keeps to bound its state
// (pipeline.StateConfig): the limit, and the spill store its exact distinct
// sets move to once it is over the limit.
//
// Once an operator spills, every CountDistinct aggregate keeps its sets in
// the store, for every open window and every window opened after, until the
// state is replaced (Restore) or the operator closes: a row's value goes to
// the store as it comes, as the key
//
//	shard id (4 bytes) | window start (8) | aggregate (2) | key id (4) | value
//
// (big-endian; the start with its sign bit flipped, so that keys sort by
// start; a string value as its bytes, any other as its int64 dict value in
// 8 bytes), the store keeping each key once. A window that fires counts the
// keys of its prefix per key id; with several shards it first copies their
// keys into the merge area (shard id 0xffffffff), where equal values of
// different shards meet. The value dicts of spilled aggregates stay empty,
// which is what frees the memory; key ids stay as they are (the operator
// does not compact its dicts while it spills). Checkpoints still hold every
// value (appendSpilled).
type stateGuard struct {
	cfg    pipeline.StateConfig
	name   string              // the stage's, for errors
	part   int                 // the instance's partition, which names its store
	store  pipeline.SpillStore // nil until the first spill
	on     []bool              // per aggregate: its distinct sets are in store
	ids    map[string]uint32   // shard name -> shard id in the store's keys
	err    error               // a store error from a path that returns none
	spills int64

	// src, for a temporary operator that snapshots one shard of another
	// (SnapshotShards): that operator, and the shard's id in its store.
	src      *Operator
	srcShard uint32

	keys [][]byte
	buf  []byte
	offs []int
}

const (
	mergeShard  = ^uint32(0)
	spillBatch  = 4096
	spillKeyLen = 4 + 8 + 2 + 4
)

func newStateGuard(p *plan, env pipeline.OperatorEnv) stateGuard {
	return stateGuard{cfg: env.State, name: p.name, part: env.Partition}
}

// spilled reports whether aggregate a keeps its distinct sets in the store.
func (g *stateGuard) spilled(a int) bool { return a < len(g.on) && g.on[a] }

func (g *stateGuard) anySpilled() bool {
	for _, on := range g.on {
		if on {
			return true
		}
	}
	return false
}

// shardID returns the store's id of shard name.
func (g *stateGuard) shardID(name string) uint32 {
	id, ok := g.ids[name]
	if !ok {
		if g.ids == nil {
			g.ids = map[string]uint32{}
		}
		id = uint32(len(g.ids))
		g.ids[name] = id
	}
	return id
}

// prefix appends the key prefix of shard id, window start and aggregate a.
func spillPrefix(b []byte, shard uint32, start int64, a int) []byte {
	b = binary.BigEndian.AppendUint32(b, shard)
	b = binary.BigEndian.AppendUint64(b, uint64(start)^(1<<63))
	return binary.BigEndian.AppendUint16(b, uint16(a))
}

// add queues key b[off:] and writes the queue once it is long enough.
func (g *stateGuard) queue(off int) error {
	g.offs = append(g.offs, off)
	if len(g.offs) >= spillBatch {
		return g.flush()
	}
	return nil
}

// flush writes the queued keys, whose offsets in g.buf are g.offs.
func (g *stateGuard) flush() error {
	if len(g.offs) == 0 {
		return nil
	}
	g.keys = g.keys[:0]
	for i, off := range g.offs {
		end := len(g.buf)
		if i+1 < len(g.offs) {
			end = g.offs[i+1]
		}
		g.keys = append(g.keys, g.buf[off:end])
	}
	err := g.store.Add(g.keys)
	g.buf, g.offs = g.buf[:0], g.offs[:0]
	if err != nil {
		return fmt.Errorf("windows: %s: spill: %w", g.name, err)
	}
	return nil
}

// close closes the store, which removes what it holds.
func (g *stateGuard) close() error {
	g.on = nil
	g.ids = nil
	if g.store == nil {
		return nil
	}
	err := g.store.Close()
	g.store = nil
	if err != nil {
		return fmt.Errorf("windows: %s: close spill store: %w", g.name, err)
	}
	return nil
}

// Close implements io.Closer: it closes the spill store, if the operator
// opened one.
func (o *Operator) Close() error { return o.st.close() }

// canSpill reports whether o has distinct sets left in memory.
func (o *Operator) canSpill() bool {
	if o.lateness > 0 { // corrections merge keys one by one: not from the store
		return false
	}
	for a, d := range o.vdicts {
		if d != nil && !o.st.spilled(a) {
			return true
		}
	}
	return false
}

// spillAll moves the distinct sets of every CountDistinct aggregate to the
// store, opening it, and frees them.
func (o *Operator) spillAll() error {
	g := &o.st
	if g.store == nil {
		s, err := g.cfg.Spill(fmt.Sprintf("window-%d", g.part))
		if err != nil {
			return fmt.Errorf("windows: %s: open spill store: %w", o.p.name, err)
		}
		g.store = s
	}
	if g.on == nil {
		g.on = make([]bool, len(o.p.aggs))
	}
	for a, d := range o.vdicts {
		if d == nil || g.on[a] {
			continue
		}
		for _, sh := range o.byName {
			id := g.shardID(sh.name)
			sa := &sh.accs[a]
			for _, ws := range sh.windows {
				kidOf := make(map[int32]uint32, len(ws.gslots))
				for gi, s := range ws.gslots {
					kidOf[s] = ws.keys[gi]
				}
				pre := spillPrefix(nil, id, ws.start, a)
				var err error
				ws.dsets[a].each(sa, ws, func(s int32, v uint32) {
					if err != nil {
						return
					}
					off := len(g.buf)
					g.buf = append(g.buf, pre...)
					g.buf = binary.BigEndian.AppendUint32(g.buf, kidOf[s])
					g.buf = appendDictValue(g.buf, d, v)
					err = g.queue(off)
				})
				if err != nil {
					return err
				}
				ws.dsets[a] = &distinctSet{sparse: newU64Set(0)}
				for _, s := range ws.gslots {
					sa.n[s], sa.i[s] = 0, 0
				}
			}
		}
		if err := g.flush(); err != nil {
			return err
		}
		o.vdicts[a] = newDict(d.phys)
		g.on[a] = true
	}
	g.buf, g.keys, g.offs = nil, nil, nil
	o.setPool, o.mset, o.mbits, o.scratch = nil, nil, nil, nil
	g.spills++
	return nil
}

// appendDictValue appends value id v of d as the store keeps it.
func appendDictValue(b []byte, d *dict, v uint32) []byte {
	if d.phys.isString() {
		return append(b, d.strBytes(v)...)
	}
	return binary.BigEndian.AppendUint64(b, uint64(d.intVals[v]))
}

// spillRows is addDistinct for a spilled aggregate: it writes the value of
// every row of rows that keep keeps (nil: all) to the store, for its window
// bwins[wins[j]] and key o.kids[r].
func (o *Operator) spillRows(sh *shardState, ai int, arr arrow.Array, keep []bool, rows, wins []int32) {
	g := &o.st
	if g.err != nil {
		return
	}
	id := g.shardID(sh.name)
	value := valueAppender(arr)
	if value == nil {
		g.err = fmt.Errorf("windows: %s: spill: cannot spill a %s column", o.p.name, arr.DataType())
		return
	}
	for j, r := range rows {
		if keep != nil && !keep[r] {
			continue
		}
		off := len(g.buf)
		g.buf = spillPrefix(g.buf, id, o.bwins[wins[j]].start, ai)
		g.buf = binary.BigEndian.AppendUint32(g.buf, o.kids[r])
		g.buf = value(g.buf, int(r))
		if err := g.queue(off); err != nil {
			g.err = err
			return
		}
	}
	if err := g.flush(); err != nil {
		g.err = err
	}
}

// valueAppender returns a function that appends the value of row r of arr as
// the store keeps it (see appendDictValue), nil for a type CountDistinct
// does not take.
func valueAppender(arr arrow.Array) func(b []byte, r int) []byte {
	be := binary.BigEndian
	switch a := arr.(type) {
	case *array.String:
		return func(b []byte, r int) []byte { return append(b, a.Value(r)...) }
	case *array.LargeString:
		return func(b []byte, r int) []byte { return append(b, a.Value(r)...) }
	case *array.Boolean:
		return func(b []byte, r int) []byte {
			v := uint64(0)
			if a.Value(r) {
				v = 1
			}
			return be.AppendUint64(b, v)
		}
	case *array.Int8:
		return func(b []byte, r int) []byte { return be.AppendUint64(b, uint64(int64(a.Value(r)))) }
	case *array.Int16:
		return func(b []byte, r int) []byte { return be.AppendUint64(b, uint64(int64(a.Value(r)))) }
	case *array.Int32:
		return func(b []byte, r int) []byte { return be.AppendUint64(b, uint64(int64(a.Value(r)))) }
	case *array.Int64:
		return func(b []byte, r int) []byte { return be.AppendUint64(b, uint64(a.Value(r))) }
	case *array.Uint8:
		return func(b []byte, r int) []byte { return be.AppendUint64(b, uint64(a.Value(r))) }
	case *array.Uint16:
		return func(b []byte, r int) []byte { return be.AppendUint64(b, uint64(a.Value(r))) }
	case *array.Uint32:
		return func(b []byte, r int) []byte { return be.AppendUint64(b, uint64(a.Value(r))) }
	case *array.Uint64:
		return func(b []byte, r int) []byte { return be.AppendUint64(b, a.Value(r)) }
	}
	return nil
}

// mergeSpilled is mergeDistinct for a spilled aggregate: it counts the
// distinct values of each merged group of the window of ps in the store,
// then deletes the window's keys.
func (o *Operator) mergeSpilled(a int, ps []part) error {
	g := &o.st
	if g.err != nil {
		return g.err
	}
	start := ps[0].ws.start
	cnt := o.macc[a].n
	count := func(key []byte) error {
		if len(key) < spillKeyLen {
			return fmt.Errorf("windows: %s: spill: short key %x", o.p.name, key)
		}
		d, ok := o.mindex[binary.BigEndian.Uint32(key[14:])]
		if !ok {
			return fmt.Errorf("windows: %s: spill: key of no group", o.p.name)
		}
		cnt[d]++
		return nil
	}
	var ids []uint32
	for _, p := range ps {
		if id, ok := g.ids[p.sh.name]; ok {
			ids = append(ids, id)
		}
	}
	if len(ids) == 1 {
		pre := spillPrefix(nil, ids[0], start, a)
		if err := g.store.Scan(pre, count); err != nil {
			return fmt.Errorf("windows: %s: spill: %w", o.p.name, err)
		}
		return g.deletePrefix(pre)
	}
	merged := spillPrefix(nil, mergeShard, start, a)
	for _, id := range ids {
		pre := spillPrefix(nil, id, start, a)
		err := g.store.Scan(pre, func(key []byte) error {
			off := len(g.buf)
			g.buf = append(g.buf, merged...)
			g.buf = append(g.buf, key[len(pre):]...)
			return g.queue(off)
		})
		if err == nil {
			err = g.flush()
		}
		if err != nil {
			return fmt.Errorf("windows: %s: spill: %w", o.p.name, err)
		}
		if err := g.deletePrefix(pre); err != nil {
			return err
		}
	}
	if err := g.store.Scan(merged, count); err != nil {
		return fmt.Errorf("windows: %s: spill: %w", o.p.name, err)
	}
	return g.deletePrefix(merged)
}

func (g *stateGuard) deletePrefix(pre []byte) error {
	if err := g.store.DeletePrefix(pre); err != nil {
		return fmt.Errorf("windows: %s: spill: %w", g.name, err)
	}
	return nil
}
