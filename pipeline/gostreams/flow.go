package gostreams

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/reugn/go-streams"
	"github.com/reugn/go-streams/flow"
	"github.com/shardflow/shardflow/pipeline"
)

// Flow runs the operators of pipeline stages over *pipeline.Batch elements,
// fused in one goroutine; watermarks and barriers pass through in order.
type Flow struct {
	in     chan any
	out    chan any
	schema *arrow.Schema
	up     link
	errs
}

var _ streams.Flow = (*Flow)(nil)

// NewFlow binds stages, in order, to the schema of the batches that will
// arrive (pipeline.RawSchema after a Source) and starts the flow. Batches on a
// side (dead letters) pass through untouched. It fails, before anything runs,
// when a stage does not fit its input.
func NewFlow(ctx context.Context, in *arrow.Schema, mem memory.Allocator, stages ...pipeline.Stage) (*Flow, error) {
	var ops []pipeline.Operator
	for _, st := range stages {
		out, newOp, err := st.Bind(in)
		if err == nil {
			var op pipeline.Operator
			if op, err = newOp(pipeline.OperatorEnv{Mem: mem, Source: "go-streams"}); err == nil {
				ops, in = append(ops, op), out
				continue
			}
		}
		pipeline.CloseOperators(ops...) //nolint:errcheck // the bind error is the one to report
		return nil, fmt.Errorf("gostreams: %s: %w", st.Name(), err)
	}
	f := &Flow{in: make(chan any), out: make(chan any), schema: in}
	go f.run(ctx, ops)
	return f, nil
}

// Schema is the schema of the batches the flow emits.
func (f *Flow) Schema() *arrow.Schema { return f.schema }

func (f *Flow) run(ctx context.Context, ops []pipeline.Operator) {
	defer close(f.out)
	defer drain(f.in) // after a failure: release what upstream still sends until it stops
	defer func() {
		if err := pipeline.CloseOperators(ops...); err != nil {
			f.set(fmt.Errorf("gostreams: close operators: %w", err))
		}
	}()
	var opErr error
	var emit func(i int) pipeline.Emit
	emit = func(i int) pipeline.Emit {
		return func(b *pipeline.Batch) {
			switch {
			case opErr != nil || ctx.Err() != nil:
				b.Release()
			case i == len(ops) || b.Side != pipeline.MainSide:
				if !send(ctx, f.out, b) {
					b.Release()
				}
			default:
				if err := ops[i].Process(ctx, b, emit(i+1)); err != nil {
					opErr = fmt.Errorf("gostreams: %T: %w", ops[i], err)
				}
			}
		}
	}
	head := emit(0)
	fail := func(err error) {
		f.set(err)
		f.up.stopUpstream()
		send(ctx, f.out, failed{err})
	}
	for {
		select {
		case el, ok := <-f.in:
			if !ok {
				return
			}
			switch el := el.(type) {
			case *pipeline.Batch:
				head(el)
			case pipeline.Barrier:
				send(ctx, f.out, el)
			case failed:
				fail(el.err)
				return
			default:
				opErr = fmt.Errorf("gostreams: unexpected element %T, want *pipeline.Batch or Barrier", el)
			}
			if opErr != nil {
				fail(opErr)
				return
			}
		case <-ctx.Done():
			f.set(ctx.Err())
			return
		}
	}
}

// In is the flow's input channel.
func (f *Flow) In() chan<- any { return f.in }

// Out is the flow's output channel.
func (f *Flow) Out() <-chan any { return f.out }

// Via streams the flow's output into next.
func (f *Flow) Via(next streams.Flow) streams.Flow {
	if n, ok := next.(*Flow); ok {
		n.up.set(f.up.stopUpstream)
	}
	flow.DoStream(f, next)
	return next
}

// To streams the flow's output into sink and waits until the sink is done.
func (f *Flow) To(sink streams.Sink) {
	if s, ok := sink.(*Sink); ok {
		s.up.set(f.up.stopUpstream)
	}
	flow.DoStream(f, sink)
	sink.AwaitCompletion()
}
