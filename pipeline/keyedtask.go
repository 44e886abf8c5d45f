package pipeline

import (
	"context"
	"fmt"
)

// keyedTask runs one instance of the job's keyed stage, and its own instances
// of the stages after it, on a goroutine of its own. The coordinator feeds it
// through a bounded queue, in one order that every instance shares: the rows
// of its partition of each batch, each watermark, each snapshot request. What
// the instance emits goes straight to the sinks' queues, so a snapshot's reply
// follows every row emitted before it, and the coordinator queues the sinks'
// pre-commits only once every instance has replied.
type keyedTask struct {
	index int
	op    KeyedOperator
	post  []Operator
	in    chan keyedMsg
	out   *coordinator // for the sinks and the job's stats
	err   error        // the first error of an emit
}

// keyedMsg is one of: a batch to process, a watermark, a snapshot request.
type keyedMsg struct {
	batch *Batch
	wm    int64
	snap  chan<- keyedSnapshot
}

type keyedSnapshot struct {
	index    int               // the instance's partition
	state    []byte            // Snapshot's, or SnapshotShards' common part
	shards   map[string][]byte // SnapshotShards' parts; nil for an operator without
	counters map[string]int64  // the operator's counters, if it reports them
	err      error
}

func (m keyedMsg) release() { m.batch.Release() }

// send queues m; false when ctx ended first (m's batch is released).
func (t *keyedTask) send(ctx context.Context, m keyedMsg) bool { return enqueue(ctx, t.in, m) }

// run serves the queue until it is closed (nil), an operator fails (the
// error, which ends the job) or ctx ends (nil).
func (t *keyedTask) run(ctx context.Context) error {
	return serveQueue(ctx, t.in, func(m keyedMsg) error { return t.serve(ctx, m) })
}

func (t *keyedTask) serve(ctx context.Context, m keyedMsg) error {
	j := t.out.j
	emit := func(b *Batch) { t.emit(ctx, 0, b) }
	switch {
	case m.snap != nil:
		r := keyedSnapshot{index: t.index}
		if sp, ok := t.op.(SnapshotPreparer); ok {
			r.err = sp.PrepareSnapshot(ctx, emit)
			if r.err == nil && t.err != nil {
				r.err = t.err
			}
		}
		switch ss, ok := t.op.(ShardSnapshotter); {
		case r.err != nil:
		case ok:
			r.state, r.shards, r.err = ss.SnapshotShards()
		default:
			r.state, r.err = t.op.Snapshot()
		}
		if cr, ok := t.op.(CounterReporter); ok {
			r.counters = cr.Counters()
		}
		m.snap <- r
		return nil
	case m.batch != nil:
		if err := t.op.Process(ctx, m.batch, emit); err != nil {
			return fmt.Errorf("pipeline: job %q: %s: %w", j.name, j.keyedName, err)
		}
	default:
		if err := t.op.OnWatermark(ctx, m.wm, emit); err != nil {
			return fmt.Errorf("pipeline: job %q: %s: watermark %d: %w", j.name, j.keyedName, m.wm, err)
		}
	}
	if t.err != nil {
		return fmt.Errorf("pipeline: job %q: %w", j.name, t.err)
	}
	return nil
}

// emit hands b to post-window stage i, or to the sink after the last one.
func (t *keyedTask) emit(ctx context.Context, i int, b *Batch) {
	c := t.out
	switch {
	case t.err != nil || b.Len() == 0:
		b.Release()
	case b.Side != MainSide:
		t.err = c.writeSide(ctx, b)
	case i < len(t.post):
		if err := t.post[i].Process(ctx, b, func(out *Batch) { t.emit(ctx, i+1, out) }); err != nil {
			t.err = err
		}
	default:
		n := int64(b.Len())
		if !c.sinks[0].send(ctx, sinkMsg{op: sinkWrite, batch: b}) {
			t.err = ctx.Err()
			return
		}
		c.j.updateStats(func(s *Stats) { s.RowsOut += n })
	}
}

// drain releases the batches still queued once the task has stopped.
func (t *keyedTask) drain() { drainQueue(t.in) }
