package expr

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
)

// evaluator computes a predicate with SQL's three-valued logic, column at a
// time: for row i, null[i] means "unknown" (a comparison with a null), else
// val[i] is the result. Both slices have one entry per row of rec.
type evaluator interface {
	eval(rec arrow.RecordBatch, val, null []bool)
}

// compilable is implemented by this package's predicates: they compile into
// an evaluator so that And, Or and Not combine them with three-valued logic.
type compilable interface {
	evaluator(schema *arrow.Schema) (evaluator, error)
}

// compile returns p's evaluator; a predicate from outside the package is
// used through its Bound and never yields unknown.
func compile(p Predicate, schema *arrow.Schema) (evaluator, error) {
	switch p := p.(type) {
	case nil:
		return nil, fmt.Errorf("expr: nil predicate")
	case compilable:
		return p.evaluator(schema)
	default:
		b, err := p.Bind(schema)
		if err != nil {
			return nil, err
		}
		return foreignEval{b}, nil
	}
}

func bindRoot(p compilable, schema *arrow.Schema) (Bound, error) {
	ev, err := p.evaluator(schema)
	if err != nil {
		return nil, err
	}
	return &bound{ev: ev}, nil
}

// bound is the Bound of every predicate of the package.
type bound struct {
	ev   evaluator
	null []bool
}

func (b *bound) Match(rec arrow.RecordBatch, dst []bool) []bool {
	n := int(rec.NumRows())
	dst = grow(dst, n)
	b.null = grow(b.null, n)
	b.ev.eval(rec, dst, b.null)
	for i, isNull := range b.null {
		dst[i] = dst[i] && !isNull
	}
	return dst
}

func grow(s []bool, n int) []bool {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]bool, n, n+n/4)
}

// columnEval runs a kernel on one column and marks its null rows unknown.
type columnEval struct {
	idx int
	k   kernel
}

func (c *columnEval) eval(rec arrow.RecordBatch, val, null []bool) {
	arr := rec.Column(c.idx)
	if arr.Len() != len(val) || !c.k(arr, val) {
		// Not the schema the predicate was bound to: nothing matches.
		fill(null, true)
		return
	}
	nullsOf(arr, null)
}

// nullsOf sets null[i] to whether row i of arr is null.
func nullsOf(arr arrow.Array, null []bool) {
	if arr.NullN() == 0 {
		fill(null, false)
		return
	}
	for i := range null {
		null[i] = arr.IsNull(i)
	}
}

type foreignEval struct{ b Bound }

func (f foreignEval) eval(rec arrow.RecordBatch, val, null []bool) {
	got := f.b.Match(rec, val)
	if len(got) == len(val) && (len(got) == 0 || &got[0] != &val[0]) {
		copy(val, got)
	}
	fill(null, false)
}
