package pipeline

import (
	"context"
	"fmt"
)

// sinkTask runs one sink on a goroutine of its own, fed through a bounded
// queue, so that a slow sink holds up the job only once its queue is full and
// never the other sinks while it has room. Checkpoints travel in band: the
// pre-commit of checkpoint N follows every batch written before N's barriers
// and precedes every batch after them, and the commit of N follows its
// pre-commit. The coordinator hears back on a reply channel with room for one
// reply per sink, which is all a sink can owe it: a sink task never blocks on
// the coordinator.
type sinkTask struct {
	sink    Sink
	cm      Committer // nil for a sink that writes at least once
	in      chan sinkMsg
	replies chan<- sinkReply
}

type sinkOp int

const (
	sinkWrite     sinkOp = iota // write batch
	sinkPreCommit               // pre-commit checkpoint id and reply with the handle
	sinkCommit                  // commit checkpoint id's handle and reply
)

type sinkMsg struct {
	op     sinkOp
	batch  *Batch // sinkWrite
	id     uint64 // sinkPreCommit, sinkCommit
	handle []byte // sinkCommit
}

// sinkReply answers a pre-commit or a commit.
type sinkReply struct {
	task     *sinkTask
	op       sinkOp
	id       uint64
	handle   []byte           // the pre-commit's handle; nil for a sink without two-phase commit
	counters map[string]int64 // the sink's counters after the pre-commit, if it reports them
}

func newSinkTask(s Sink, queue int, replies chan<- sinkReply) *sinkTask {
	cm, _ := s.(Committer)
	return &sinkTask{sink: s, cm: cm, in: make(chan sinkMsg, queue), replies: replies}
}

func (m sinkMsg) release() { m.batch.Release() }

// send queues m; false when ctx ended first (m's batch is released).
func (t *sinkTask) send(ctx context.Context, m sinkMsg) bool { return enqueue(ctx, t.in, m) }

// run serves the queue until it is closed (nil) or a sink call fails (the
// error, which ends the job) or ctx ends (nil: the job's error is elsewhere).
func (t *sinkTask) run(ctx context.Context) error {
	return serveQueue(ctx, t.in, func(m sinkMsg) error {
		if err := t.serve(ctx, m); err != nil {
			return fmt.Errorf("sink %s: %w", t.sink.Name(), err)
		}
		return nil
	})
}

func (t *sinkTask) serve(ctx context.Context, m sinkMsg) error {
	switch m.op {
	case sinkWrite:
		return t.sink.Write(ctx, m.batch)
	case sinkPreCommit:
		r := sinkReply{task: t, op: m.op, id: m.id}
		if t.cm != nil {
			h, err := t.cm.PreCommit(ctx, m.id)
			if err != nil {
				return fmt.Errorf("pre-commit %d: %w", m.id, err)
			}
			r.handle = h
		}
		if cr, ok := t.sink.(CounterReporter); ok {
			r.counters = cr.Counters()
		}
		t.replies <- r
	case sinkCommit:
		if err := t.cm.Commit(ctx, m.id, m.handle); err != nil {
			return fmt.Errorf("commit %d: %w", m.id, err)
		}
		t.replies <- sinkReply{task: t, op: m.op, id: m.id}
	}
	return nil
}

// drain releases the batches still queued once the task has stopped.
func (t *sinkTask) drain() { drainQueue(t.in) }
