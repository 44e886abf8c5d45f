package pipeline

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
)

// Data-cut checkpoints (WithReplayStep). A replay's checkpoints are cut by
// the records, not by the clock, so that the same replay puts the same rows
// in the same checkpoints, and its sinks give its files the same names,
// whatever the machine's pace, the checkpoint interval or a crash.
//
// Checkpoint k covers, of every shard, the records before the shard's first
// record (after its previous barrier) whose arrival time (RawArrival) is at
// or after k*step since the Unix epoch: the shard's task emits barrier k
// there by itself, splitting a batch if needed, and waits at it. Checkpoint
// ids are therefore boundary numbers, not consecutive, and increasing: a
// boundary that no shard crosses gets no checkpoint. The coordinator takes
// checkpoint k once every running shard waits at a barrier, k being the
// least of their ids: a shard waiting at a greater one has no record before
// boundary k that it has not sent, for a shard's barriers are placed by its
// own records. A finished shard holds nothing back; a child shard starts
// once its parents have finished (at once, in this mode, even while a
// checkpoint is under way) and takes part in the next checkpoint: its
// records arrived after every record of its parents (a Kinesis split or
// merge closes the parents first), so none of them belongs to a checkpoint
// its parents' barriers have passed. The bounded input's end takes the
// final checkpoint, the greatest id so far plus one.
//
// When every running shard waits at a barrier, the coordinator has routed
// every row before the barriers and nothing after: the watermark it has
// sent the keyed stage is the one those rows imply (idleness, a clock
// matter, is ignored in this mode), so the same windows have fired at every
// checkpoint of every run. Records without an arrival time (0) never cross
// a boundary.

// DefaultReplayStep is the stream time between a replay's data-cut
// checkpoints when WithReplayStep is given 0: 96 checkpoints a day of records.
const DefaultReplayStep = 15 * time.Minute

// releases lets shard tasks wait for the release of a data-cut checkpoint
// that the coordinator may not have started yet.
type releases struct {
	mu    sync.Mutex
	done  uint64 // every checkpoint up to it is released
	chans map[uint64]chan struct{}
}

func newReleases(done uint64) *releases {
	return &releases{done: done, chans: map[uint64]chan struct{}{}}
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// wait returns a channel that is closed once checkpoint id is released.
func (r *releases) wait(id uint64) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id <= r.done {
		return closedChan
	}
	c, ok := r.chans[id]
	if !ok {
		c = make(chan struct{})
		r.chans[id] = c
	}
	return c
}

// release releases every checkpoint up to id.
func (r *releases) release(id uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done = max(r.done, id)
	for k, c := range r.chans {
		if k <= id {
			close(c)
			delete(r.chans, k)
		}
	}
}

// cutIndex returns the index of the first row of the raw batch b whose
// arrival time is at or after boundary t.cut+1, and the boundary that row
// has crossed (its arrival / step); -1 when no row crosses one.
func (t *task) cutIndex(b *Batch, from int) (int, uint64) {
	if b.Rec.NumCols() <= rawArrivalCol || b.Rec.Schema().Field(rawArrivalCol).Name != RawArrival {
		return -1, 0
	}
	a, ok := b.Rec.Column(rawArrivalCol).(*array.Timestamp)
	if !ok {
		return -1, 0
	}
	for i := from; i < a.Len(); i++ {
		if a.IsNull(i) || a.Value(i) <= 0 {
			continue
		}
		if k := uint64(int64(a.Value(i)) / t.step); k > t.cut {
			return i, k
		}
	}
	return -1, 0
}

// processCut runs a raw batch through the chain in a data-cut job: the rows
// before each boundary the batch crosses go first, then the task emits that
// boundary's barrier and waits for its release. sent is false when the job
// is ending.
func (t *task) processCut(ctx context.Context, chain func(context.Context, *Batch) error, b *Batch) (sent bool, err error) {
	for {
		i, k := t.cutIndex(b, 0)
		if i < 0 {
			return t.process(ctx, chain, b)
		}
		if i > 0 {
			head, rest := sliceRaw(b, 0, i), sliceRaw(b, i, int(b.Rec.NumRows()))
			b.Release()
			b = rest
			if sent, err := t.process(ctx, chain, head); err != nil || !sent {
				b.Release()
				return sent, err
			}
		}
		if err := t.snapshotLocal(); err != nil {
			b.Release()
			return false, fmt.Errorf("shard %s: checkpoint %d: %w", t.shard.ID, k, err)
		}
		t.cut = k
		if !t.send(ctx, Barrier{ID: k, Shard: t.shard.ID, State: t.state}) {
			b.Release()
			return false, nil
		}
		select {
		case <-t.gate.wait(k):
		case <-ctx.Done():
			b.Release()
			return false, nil
		}
	}
}

// sliceRaw returns rows [lo, hi) of the raw batch b as a batch of its own,
// with their first and last positions; b keeps its reference.
func sliceRaw(b *Batch, lo, hi int) *Batch {
	out := b.WithRecord(b.Rec.NewSlice(int64(lo), int64(hi)))
	out.First, out.Last = rawPosition(b, lo), rawPosition(b, hi-1)
	return out
}

// rawPosition is the position of row i of a raw batch.
func rawPosition(b *Batch, i int) Position {
	var p Position
	if seq, ok := b.Rec.Column(2).(*array.String); ok {
		p.Seq = seq.Value(i)
	}
	if n, ok := b.Rec.Column(3).(*array.Int64); ok {
		p.N = n.Value(i)
	}
	return p
}

// cutMode reports whether the job's checkpoints are cut by the data.
func (c *coordinator) cutMode() bool { return c.j.replay && c.j.replayStep > 0 }

// cutArrived notes that shard waits at barrier id, and takes the next
// checkpoint when every running shard waits at one.
func (c *coordinator) cutArrived(ctx context.Context, shard string, id uint64) error {
	c.cutAt[shard] = id
	return c.tryCut(ctx)
}

// tryCut takes the data-cut checkpoint whose barriers are all in: the least
// id at which a running shard waits, once every running shard waits at
// one and no checkpoint is under way.
func (c *coordinator) tryCut(ctx context.Context) error {
	if c.pending != nil || c.draining || c.ended {
		return nil
	}
	var k uint64
	for id, e := range c.shards {
		if e.task == nil {
			continue
		}
		at, ok := c.cutAt[id]
		if !ok {
			return nil // still reading towards its next barrier
		}
		if k == 0 || at < k {
			k = at
		}
	}
	if k == 0 {
		return nil // nothing runs: the input's end takes the final checkpoint
	}
	if k < c.nextID {
		return fmt.Errorf("pipeline: job %q: a shard waits at checkpoint %d, after %d was taken", c.j.name, k, c.nextID-1)
	}
	for id, at := range c.cutAt {
		if at == k {
			delete(c.cutAt, id)
		}
	}
	// Every row before the barriers has been routed, and the watermark
	// moved with each batch: the keyed stage has been sent the watermark
	// those rows imply.
	if err := c.advanceWatermark(ctx); err != nil {
		return err
	}
	c.pending = &inflight{id: k, started: time.Now(), waiting: map[string]bool{}, release: make(chan struct{})}
	c.nextID = k + 1
	return c.barriersIn(ctx)
}
