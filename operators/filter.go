package operators

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/expr"
	"github.com/shardflow/shardflow/pipeline"
)

// Filter returns the stage that keeps the rows p matches, in order. p is
// bound to the input schema when the job is built; a row for which p
// compares a null is dropped.
func Filter(p expr.Predicate) pipeline.Stage { return &filterStage{p: p} }

var _ pipeline.Stage = (*filterStage)(nil)

type filterStage struct{ p expr.Predicate }

func (s *filterStage) Name() string {
	if s.p == nil {
		return "filter(<nil>)"
	}
	return "filter(" + s.p.String() + ")"
}

func (s *filterStage) Bind(in *arrow.Schema) (*arrow.Schema, func(pipeline.OperatorEnv) (pipeline.Operator, error), error) {
	if s.p == nil {
		return nil, nil, errors.New("operators: filter: nil predicate")
	}
	if in == nil {
		return nil, nil, errors.New("operators: filter: nil input schema")
	}
	if _, err := s.p.Bind(in); err != nil {
		return nil, nil, fmt.Errorf("operators: filter: %w", err)
	}
	for _, f := range in.Fields() {
		if err := takeSupported(f.Type); err != nil {
			return nil, nil, fmt.Errorf("operators: filter: column %q: %w", f.Name, err)
		}
	}
	p := s.p
	newOp := func(env pipeline.OperatorEnv) (pipeline.Operator, error) {
		if env.Mem == nil {
			return nil, errors.New("operators: filter: OperatorEnv.Mem is nil")
		}
		// A Bound belongs to one goroutine: bind again per instance.
		b, err := p.Bind(in)
		if err != nil {
			return nil, fmt.Errorf("operators: filter: %w", err)
		}
		return &FilterOperator{mem: env.Mem, match: b}, nil
	}
	return in, newOp, nil
}

// FilterOperator is an instance of the Filter stage.
type FilterOperator struct {
	mem     memory.Allocator
	match   expr.Bound
	sel     []bool
	idx     []int32
	rowsIn  int64
	rowsOut int64
}

var (
	_ pipeline.Operator        = (*FilterOperator)(nil)
	_ pipeline.CounterReporter = (*FilterOperator)(nil)
)

// Process evaluates the predicate column at a time and gathers the matching
// rows through a selection vector (see take.go). A batch whose rows all match goes on as
// it is; one with no match is released and nothing is emitted. MinTime and
// MaxTime are kept: they still bound the remaining rows.
func (f *FilterOperator) Process(ctx context.Context, b *pipeline.Batch, emit pipeline.Emit) error {
	n := b.Len()
	f.rowsIn += int64(n)
	if n == 0 {
		b.Release()
		return nil
	}
	f.sel = f.match.Match(b.Rec, f.sel)
	f.idx = f.idx[:0]
	for i, m := range f.sel {
		if m {
			f.idx = append(f.idx, int32(i))
		}
	}
	f.rowsOut += int64(len(f.idx))
	return emitRows(f.mem, "filter", b, f.idx, emit)
}

// Counters reports rows_in and rows_out.
func (f *FilterOperator) Counters() map[string]int64 {
	return map[string]int64{"rows_in": f.rowsIn, "rows_out": f.rowsOut}
}
