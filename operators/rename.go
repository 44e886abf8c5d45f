package operators

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/shardflow/shardflow/pipeline"
)

// Rename returns the stage that renames column from to to, keeping its type,
// nullability, metadata and position. It fails at Bind when from is not a
// column or to already is one.
func Rename(from, to string) pipeline.Stage { return &renameStage{from: from, to: to} }

var _ pipeline.Stage = (*renameStage)(nil)

type renameStage struct{ from, to string }

func (s *renameStage) Name() string {
	return "rename(" + strconv.Quote(s.from) + "->" + strconv.Quote(s.to) + ")"
}

func (s *renameStage) Bind(in *arrow.Schema) (*arrow.Schema, func(pipeline.OperatorEnv) (pipeline.Operator, error), error) {
	if in == nil {
		return nil, nil, errors.New("operators: rename: nil input schema")
	}
	if s.to == "" {
		return nil, nil, errors.New("operators: rename: empty new name")
	}
	j, err := findColumn(in, s.from)
	if err != nil {
		return nil, nil, fmt.Errorf("operators: rename: %w", err)
	}
	if s.to != s.from && in.HasField(s.to) {
		return nil, nil, fmt.Errorf("operators: rename: column %q already exists", s.to)
	}
	fields := in.Fields()
	idx := make([]int, len(fields))
	for i := range fields {
		idx[i] = i
	}
	fields[j].Name = s.to
	md := in.Metadata()
	out := arrow.NewSchema(fields, &md)
	newOp := func(pipeline.OperatorEnv) (pipeline.Operator, error) {
		return &ProjectOperator{out: out, idx: idx}, nil
	}
	return out, newOp, nil
}
