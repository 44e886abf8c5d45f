package operators

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/shardflow/shardflow/pipeline"
)

// Project returns the stage that keeps the columns cols, in that order. An
// unknown or repeated column fails at Bind.
func Project(cols ...string) pipeline.Stage {
	return &projectStage{cols: append([]string(nil), cols...)}
}

var _ pipeline.Stage = (*projectStage)(nil)

type projectStage struct{ cols []string }

func (s *projectStage) Name() string { return "project(" + strings.Join(s.cols, ",") + ")" }

func (s *projectStage) Bind(in *arrow.Schema) (*arrow.Schema, func(pipeline.OperatorEnv) (pipeline.Operator, error), error) {
	if in == nil {
		return nil, nil, errors.New("operators: project: nil input schema")
	}
	if len(s.cols) == 0 {
		return nil, nil, errors.New("operators: project: no columns")
	}
	idx := make([]int, len(s.cols))
	fields := make([]arrow.Field, len(s.cols))
	seen := make(map[string]bool, len(s.cols))
	for i, c := range s.cols {
		if seen[c] {
			return nil, nil, fmt.Errorf("operators: project: column %q listed twice", c)
		}
		seen[c] = true
		j, err := findColumn(in, c)
		if err != nil {
			return nil, nil, fmt.Errorf("operators: project: %w", err)
		}
		idx[i], fields[i] = j, in.Field(j)
	}
	md := in.Metadata()
	out := arrow.NewSchema(fields, &md)
	newOp := func(pipeline.OperatorEnv) (pipeline.Operator, error) {
		return &ProjectOperator{out: out, idx: idx}, nil
	}
	return out, newOp, nil
}

// findColumn finds a column of schema by name, with an error that lists the
// columns there are.
func findColumn(schema *arrow.Schema, name string) (int, error) {
	idx := schema.FieldIndices(name)
	switch len(idx) {
	case 1:
		return idx[0], nil
	case 0:
		names := make([]string, 0, schema.NumFields())
		for _, f := range schema.Fields() {
			names = append(names, f.Name)
		}
		return 0, fmt.Errorf("column %q not in schema (have: %s)", name, strings.Join(names, ", "))
	default:
		return 0, fmt.Errorf("column %q is ambiguous: the schema has it %d times", name, len(idx))
	}
}

// ProjectOperator is an instance of the Project and Rename stages: it
// rebuilds each batch from a selection of its columns without copying data.
type ProjectOperator struct {
	out  *arrow.Schema
	idx  []int
	cols []arrow.Array
	rows int64
}

var (
	_ pipeline.Operator        = (*ProjectOperator)(nil)
	_ pipeline.CounterReporter = (*ProjectOperator)(nil)
)

// Process emits b with the projected columns; the new record retains them
// and b's record is released.
func (p *ProjectOperator) Process(_ context.Context, b *pipeline.Batch, emit pipeline.Emit) error {
	if b.Rec == nil {
		b.Release()
		return nil
	}
	if int(b.Rec.NumCols()) <= maxIndex(p.idx) {
		b.Release()
		return fmt.Errorf("operators: project: shard %s: batch has %d columns, not the schema the stage was bound to", b.Shard, b.Rec.NumCols())
	}
	p.cols = p.cols[:0]
	for _, j := range p.idx {
		p.cols = append(p.cols, b.Rec.Column(j))
	}
	rec := array.NewRecordBatch(p.out, p.cols, b.Rec.NumRows())
	clear(p.cols)
	p.rows += b.Rec.NumRows()
	nb := b.WithRecord(rec)
	b.Release()
	emit(nb)
	return nil
}

func maxIndex(idx []int) int {
	m := -1
	for _, i := range idx {
		m = max(m, i)
	}
	return m
}

// Counters reports rows, the rows passed on.
func (p *ProjectOperator) Counters() map[string]int64 { return map[string]int64{"rows": p.rows} }
