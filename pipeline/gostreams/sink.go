package gostreams

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/reugn/go-streams"
	"github.com/shardflow/shardflow/pipeline"
)

// Sink writes *pipeline.Batch elements to a pipeline.Sink. A Committer sink
// is committed once, when the input has closed after a complete run: its
// output becomes visible then, and never after a failure upstream or a
// cancelled context. Dead letters need a sink of their own: a side batch that
// reaches Sink is an error.
type Sink struct {
	in   chan any
	done chan struct{}
	up   link
	errs
}

var _ streams.Sink = (*Sink)(nil)

// NewSink binds sink to schema and starts writing what arrives on In.
func NewSink(ctx context.Context, sink pipeline.Sink, schema *arrow.Schema) (*Sink, error) {
	if err := sink.Bind(schema); err != nil {
		return nil, fmt.Errorf("gostreams: sink %s: %w", sink.Name(), err)
	}
	if c, ok := sink.(pipeline.Committer); ok {
		run, err := pipeline.NewRunID()
		if err != nil {
			return nil, fmt.Errorf("gostreams: sink %s: %w", sink.Name(), err)
		}
		// Without checkpoints every go-streams run is a run of its own.
		if err := c.Recover(ctx, pipeline.Recovery{Job: "gostreams", Run: run}); err != nil {
			return nil, fmt.Errorf("gostreams: sink %s: %w", sink.Name(), err)
		}
	}
	s := &Sink{in: make(chan any), done: make(chan struct{})}
	go s.run(ctx, sink)
	return s, nil
}

func (s *Sink) run(ctx context.Context, sink pipeline.Sink) {
	defer close(s.done)
	defer drain(s.in) // after a failure: release what upstream still sends until it stops
	defer func() {
		if err := sink.Close(context.WithoutCancel(ctx)); err != nil {
			s.set(fmt.Errorf("gostreams: close sink %s: %w", sink.Name(), err))
		}
	}()
	fail := func(err error) {
		s.set(err)
		s.up.stopUpstream()
	}
	for {
		select {
		case el, ok := <-s.in:
			switch el := el.(type) {
			case nil:
				if ok {
					continue
				}
				if ctx.Err() != nil { // cancelled as the input closed: not a complete run
					s.set(ctx.Err())
					return
				}
				s.set(commit(ctx, sink))
				return
			case failed:
				fail(el.err)
				return
			case *pipeline.Batch:
				if el.Side != pipeline.MainSide {
					el.Release()
					fail(fmt.Errorf("gostreams: sink %s: a %s batch from shard %s reached the main sink", sink.Name(), el.Side, el.Shard))
					return
				}
				if err := sink.Write(ctx, el); err != nil {
					fail(fmt.Errorf("gostreams: sink %s: %w", sink.Name(), err))
					return
				}
			}
			// watermarks and barriers end here
		case <-ctx.Done():
			s.set(ctx.Err())
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
