package gostreams

import (
	"context"
	"sync"

	"github.com/shardflow/shardflow/pipeline"
)

// failed travels downstream after an adapter failed: the adapters after it
// report the error too and a sink does not commit the partial output.
type failed struct{ err error }

// link connects an adapter to the source at the head of its pipeline, so that
// a failure anywhere stops the reading instead of draining a possibly
// unbounded input. Via and To set it when both ends are adapters of this
// package; with a foreign go-streams stage in between, cancel the context.
type link struct {
	mu   sync.Mutex
	stop func()
}

func (l *link) set(stop func()) {
	l.mu.Lock()
	l.stop = stop
	l.mu.Unlock()
}

// stopUpstream stops the pipeline's source, if the adapter knows it.
func (l *link) stopUpstream() {
	l.mu.Lock()
	stop := l.stop
	l.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// errs keeps an adapter's first error.
type errs struct {
	mu  sync.Mutex
	err error
}

func (e *errs) set(err error) {
	e.mu.Lock()
	if e.err == nil {
		e.err = err
	}
	e.mu.Unlock()
}

// Err returns the adapter's first error: its own, one that reached it from
// upstream, or the context's when it was cancelled; nil once it has finished.
func (e *errs) Err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

func send(ctx context.Context, ch chan<- any, el any) bool {
	select {
	case ch <- el:
		return true
	case <-ctx.Done():
		return false
	}
}

// drain empties an input channel until upstream closes it, releasing batches,
// so that upstream is not left blocked and every batch is released by the
// time the stage reports that it is done.
func drain(in <-chan any) {
	for el := range in {
		if b, ok := el.(*pipeline.Batch); ok {
			b.Release()
		}
	}
}
