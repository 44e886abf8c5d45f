package gostreams

import (
	"context"
	"fmt"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/reugn/go-streams"
	"github.com/shardflow/shardflow/pipeline"
)

// Sink writes *pipeline.Batch elements to a pipeline.Sink. A Committer sink
// is committed once, when the input closes: its output becomes visible then.
// Dead letters need a sink of their own: a side batch that reaches Sink is an
// error.
type Sink struct {
	in   chan any
	done chan struct{}
	errs
}

var _ streams.Sink = (*Sink)(nil)

// NewSink binds sink to schema and starts writing what arrives on In.
func NewSink(ctx context.Context, sink pipeline.Sink, schema *arrow.Schema) (*Sink, error) {
	if err := sink.Bind(schema); err != nil {
		return nil, fmt.Errorf("gostreams: sink %s: %w", sink.Name(), err)
	}
	if c, ok := sink.(pipeline.Committer); ok {
		if err := c.Recover(ctx, 0, nil); err != nil {
			return nil, fmt.Errorf("gostreams: sink %s: %w", sink.Name(), err)
		}
	}
	s := &Sink{in: make(chan any), done: make(chan struct{})}
	go s.run(ctx, sink)
	return s, nil
}

func (s *Sink) run(ctx context.Context, sink pipeline.Sink) {
	defer close(s.done)
	defer drain(s.in) // after an error or cancellation: release what upstream still sends
	closeSink := func() {
		if err := sink.Close(context.WithoutCancel(ctx)); err != nil {
			s.set(fmt.Errorf("gostreams: close sink %s: %w", sink.Name(), err))
		}
	}
	defer closeSink()
	for {
		select {
		case el, ok := <-s.in:
			if !ok {
				s.set(commit(ctx, sink))
				return
			}
			b, isBatch := el.(*pipeline.Batch)
			if !isBatch {
				continue // watermarks and barriers end here
			}
			if b.Side != pipeline.MainSide {
				b.Release()
				s.set(fmt.Errorf("gostreams: sink %s: a %s batch from shard %s reached the main sink", sink.Name(), b.Side, b.Shard))
				return
			}
			if err := sink.Write(ctx, b); err != nil {
				s.set(fmt.Errorf("gostreams: sink %s: %w", sink.Name(), err))
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

func commit(ctx context.Context, sink pipeline.Sink) error {
	c, ok := sink.(pipeline.Committer)
	if !ok {
		return nil
	}
	h, err := c.PreCommit(ctx, 1)
	if err == nil {
		err = c.Commit(ctx, 1, h)
	}
	if err != nil {
		return fmt.Errorf("gostreams: commit sink %s: %w", sink.Name(), err)
	}
	return nil
}

// In is the sink's input channel.
func (s *Sink) In() chan<- any { return s.in }

// AwaitCompletion waits until the input has closed and the sink is done.
func (s *Sink) AwaitCompletion() { <-s.done }

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

// Err returns the adapter's first error, nil if none.
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
