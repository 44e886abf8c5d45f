package expr

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Eq matches rows whose column col equals value. value is a string (utf8
// columns), a Go integer (integer columns; also float columns), a float
// (float columns), a bool, or for timestamp columns a time.Time or int64
// milliseconds since the epoch.
func Eq(col string, value any) Predicate { return &comparison{col: col, op: opEq, value: value} }

// Ne matches rows whose column col is not null and differs from value.
func Ne(col string, value any) Predicate { return &comparison{col: col, op: opNe, value: value} }

// Lt matches rows whose numeric or timestamp column col is below value.
func Lt(col string, value any) Predicate { return &comparison{col: col, op: opLt, value: value} }

// Le matches rows whose numeric or timestamp column col is at most value.
func Le(col string, value any) Predicate { return &comparison{col: col, op: opLe, value: value} }

// Gt matches rows whose numeric or timestamp column col is above value.
func Gt(col string, value any) Predicate { return &comparison{col: col, op: opGt, value: value} }

// Ge matches rows whose numeric or timestamp column col is at least value.
func Ge(col string, value any) Predicate { return &comparison{col: col, op: opGe, value: value} }

// In matches rows whose column col equals one of values (typed as for Eq).
// In with no values matches nothing.
func In(col string, values ...any) Predicate {
	return &membership{col: col, values: append([]any(nil), values...)}
}

type comparison struct {
	col   string
	op    op
	value any
}

func (c *comparison) String() string {
	return quoteColumn(c.col) + " " + c.op.String() + " " + renderValue(c.value)
}

func (c *comparison) Bind(schema *arrow.Schema) (Bound, error) { return bindRoot(c, schema) }

func (c *comparison) evaluator(schema *arrow.Schema) (evaluator, error) {
	idx, err := lookup(schema, c.col)
	if err != nil {
		return nil, err
	}
	lit, err := makeLiteral(c.value)
	if err != nil {
		return nil, fmt.Errorf("expr: %s: %w", c, err)
	}
	k, err := compileCompare(schema.Field(idx), c.op, lit)
	if err != nil {
		return nil, fmt.Errorf("expr: %s: %w", c, err)
	}
	return &columnEval{idx: idx, k: k}, nil
}

type membership struct {
	col    string
	values []any
}

func (m *membership) String() string {
	parts := make([]string, len(m.values))
	for i, v := range m.values {
		parts[i] = renderValue(v)
	}
	return quoteColumn(m.col) + " IN (" + strings.Join(parts, ", ") + ")"
}

func (m *membership) Bind(schema *arrow.Schema) (Bound, error) { return bindRoot(m, schema) }

// inSetMin is the number of values from which a string IN uses a hash set
// instead of one comparison per value.
const inSetMin = 5

func (m *membership) evaluator(schema *arrow.Schema) (evaluator, error) {
	idx, err := lookup(schema, m.col)
	if err != nil {
		return nil, err
	}
	field := schema.Field(idx)
	if len(m.values) == 0 {
		return &columnEval{idx: idx, k: func(arr arrow.Array, out []bool) bool { fill(out, false); return true }}, nil
	}
	kernels := make([]kernel, len(m.values))
	set := make(map[string]struct{}, len(m.values))
	for i, v := range m.values {
		lit, err := makeLiteral(v)
		if err != nil {
			return nil, fmt.Errorf("expr: %s: %w", m, err)
		}
		if kernels[i], err = compileCompare(field, opEq, lit); err != nil {
			return nil, fmt.Errorf("expr: %s: %w", m, err)
		}
		set[lit.s] = struct{}{}
	}
	if field.Type.ID() == arrow.STRING && len(m.values) >= inSetMin {
		return &columnEval{idx: idx, k: stringSetKernel(set)}, nil
	}
	var scratch []bool
	return &columnEval{idx: idx, k: func(arr arrow.Array, out []bool) bool {
		scratch = grow(scratch, len(out))
		if !kernels[0](arr, out) {
			return false
		}
		for _, k := range kernels[1:] {
			if !k(arr, scratch) {
				return false
			}
			for i, s := range scratch {
				out[i] = out[i] || s
			}
		}
		return true
	}}, nil
}

func stringSetKernel(set map[string]struct{}) kernel {
	return func(arr arrow.Array, out []bool) bool {
		a, ok := arr.(*array.String)
		if !ok {
			return false
		}
		for i := range a.Len() {
			_, out[i] = set[a.Value(i)]
		}
		return true
	}
}
