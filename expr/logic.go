package expr

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// IsNull matches rows whose column col is null.
func IsNull(col string) Predicate { return &nullness{col: col, want: true} }

// NotNull matches rows whose column col is not null.
func NotNull(col string) Predicate { return &nullness{col: col, want: false} }

// And matches rows that every p matches; And() matches every row. A row for
// which one p is unknown (compares a null) and none is false does not match,
// and neither does Not of it, as in SQL.
func And(ps ...Predicate) Predicate { return &junction{and: true, ps: append([]Predicate(nil), ps...)} }

// Or matches rows that at least one p matches; Or() matches no row.
func Or(ps ...Predicate) Predicate { return &junction{and: false, ps: append([]Predicate(nil), ps...)} }

// Not matches rows that p does not match, except rows for which p is unknown
// because it compares a null: Not(Eq("page", "x")) does not match a null page.
func Not(p Predicate) Predicate { return &negation{p: p} }

type nullness struct {
	col  string
	want bool
}

func (n *nullness) String() string {
	if n.want {
		return quoteColumn(n.col) + " IS NULL"
	}
	return quoteColumn(n.col) + " IS NOT NULL"
}

func (n *nullness) Bind(schema *arrow.Schema) (Bound, error) { return bindRoot(n, schema) }

func (n *nullness) evaluator(schema *arrow.Schema) (evaluator, error) {
	idx, err := lookup(schema, n.col)
	if err != nil {
		return nil, err
	}
	return nullnessEval{idx: idx, want: n.want}, nil
}

type nullnessEval struct {
	idx  int
	want bool
}

func (n nullnessEval) eval(rec arrow.RecordBatch, val, null []bool) {
	arr := rec.Column(n.idx)
	nullsOf(arr, val)
	if !n.want {
		for i, v := range val {
			val[i] = !v
		}
	}
	fill(null, false)
}

type junction struct {
	and bool
	ps  []Predicate
}

func (j *junction) word() string {
	if j.and {
		return "AND"
	}
	return "OR"
}

func (j *junction) String() string {
	switch len(j.ps) {
	case 0:
		if j.and {
			return "TRUE"
		}
		return "FALSE"
	case 1:
		return render(j.ps[0])
	}
	parts := make([]string, len(j.ps))
	for i, p := range j.ps {
		parts[i] = renderOperand(p)
	}
	return strings.Join(parts, " "+j.word()+" ")
}

func render(p Predicate) string {
	if p == nil {
		return "<nil>"
	}
	return p.String()
}

// renderOperand parenthesises compound operands so the rendering reads
// unambiguously.
func renderOperand(p Predicate) string {
	if j, ok := p.(*junction); ok && len(j.ps) > 1 {
		return "(" + j.String() + ")"
	}
	return render(p)
}

func (j *junction) Bind(schema *arrow.Schema) (Bound, error) { return bindRoot(j, schema) }

func (j *junction) evaluator(schema *arrow.Schema) (evaluator, error) {
	evs := make([]evaluator, len(j.ps))
	for i, p := range j.ps {
		if p == nil {
			return nil, fmt.Errorf("expr: %s: operand %d is a nil predicate", j.word(), i+1)
		}
		ev, err := compile(p, schema)
		if err != nil {
			return nil, err
		}
		evs[i] = ev
	}
	return &junctionEval{and: j.and, evs: evs}, nil
}

type junctionEval struct {
	and    bool
	evs    []evaluator
	cv, cn []bool
}

func (j *junctionEval) eval(rec arrow.RecordBatch, val, null []bool) {
	n := len(val)
	if len(j.evs) == 0 {
		fill(val, j.and)
		fill(null, false)
		return
	}
	// val accumulates "no operand false" (AND) or "some operand true" (OR);
	// null accumulates "some operand unknown".
	fill(val, j.and)
	fill(null, false)
	j.cv, j.cn = grow(j.cv, n), grow(j.cn, n)
	cv, cn := j.cv[:n], j.cn[:n]
	null = null[:n]
	for _, ev := range j.evs {
		ev.eval(rec, cv, cn)
		if j.and {
			for i, v := range cv {
				val[i] = val[i] && (v || cn[i])
				null[i] = null[i] || cn[i]
			}
		} else {
			for i, v := range cv {
				val[i] = val[i] || (v && !cn[i])
				null[i] = null[i] || cn[i]
			}
		}
	}
	if j.and {
		// false if some operand is false; else unknown if one is unknown.
		for i, v := range val {
			null[i] = v && null[i]
			val[i] = v && !null[i]
		}
	} else {
		// true if some operand is true; else unknown if one is unknown.
		for i, v := range val {
			null[i] = !v && null[i]
		}
	}
}

type negation struct{ p Predicate }

func (n *negation) String() string {
	return "NOT (" + render(n.p) + ")"
}

func (n *negation) Bind(schema *arrow.Schema) (Bound, error) { return bindRoot(n, schema) }

func (n *negation) evaluator(schema *arrow.Schema) (evaluator, error) {
	if n.p == nil {
		return nil, fmt.Errorf("expr: NOT of a nil predicate")
	}
	ev, err := compile(n.p, schema)
	if err != nil {
		return nil, err
	}
	return negationEval{ev}, nil
}

type negationEval struct{ ev evaluator }

func (n negationEval) eval(rec arrow.RecordBatch, val, null []bool) {
	n.ev.eval(rec, val, null)
	for i, v := range val {
		val[i] = !v
	}
}
