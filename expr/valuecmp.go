package expr

import (
	"github.com/apache/arrow-go/v18/arrow"
)

// EqValue matches rows where the values a and b are equal, e.g.
// EqValue(Mod(Col("auction"), Int(123)), Int(0)). Integers compare as
// integers, else both as floats; a row where either is null does not match.
//
// A column compared with a literal, as in GtValue(Col("ts"), Int(1000)),
// reads as the column comparison Gt("ts", 1000) does and is evaluated as
// one, so that the two, which render alike (their String is a job's
// fingerprint and shares their binding in BindShared), also mean the same:
// an integer compared with a timestamp column is milliseconds since the
// epoch whatever the column's unit, and a uint64 above MaxInt64 compares as
// itself, not wrapped as Col reads it.
func EqValue(a, b Value) Predicate { return &valueCmp{op: opEq, a: a, b: b} }

// NeValue matches rows where the values a and b differ (neither null).
func NeValue(a, b Value) Predicate { return &valueCmp{op: opNe, a: a, b: b} }

// LtValue matches rows where a is below b.
func LtValue(a, b Value) Predicate { return &valueCmp{op: opLt, a: a, b: b} }

// LeValue matches rows where a is at most b.
func LeValue(a, b Value) Predicate { return &valueCmp{op: opLe, a: a, b: b} }

// GtValue matches rows where a is above b.
func GtValue(a, b Value) Predicate { return &valueCmp{op: opGt, a: a, b: b} }

// GeValue matches rows where a is at least b.
func GeValue(a, b Value) Predicate { return &valueCmp{op: opGe, a: a, b: b} }

type valueCmp struct {
	op   op
	a, b Value
}

func (c *valueCmp) String() string {
	return stringOf(c.a) + " " + c.op.String() + " " + stringOf(c.b)
}

func (c *valueCmp) Bind(schema *arrow.Schema) (Bound, error) { return bindRoot(c, schema) }

func (c *valueCmp) evaluator(schema *arrow.Schema) (evaluator, error) {
	if col, ok := c.a.(*colValue); ok {
		if lit, ok := c.b.(*litValue); ok {
			var v any = lit.i
			if lit.isFloat {
				v = lit.f
			}
			// Where the column comparison does not bind (a float literal
			// on an integer column), the value comparison stands alone.
			if ev, err := (&comparison{col: col.name, op: c.op, value: v}).evaluator(schema); err == nil {
				return ev, nil
			}
		}
	}
	a, err := compileValue(c.a, schema)
	if err != nil {
		return nil, err
	}
	b, err := compileValue(c.b, schema)
	if err != nil {
		return nil, err
	}
	return &valueCmpEval{op: c.op, a: a, b: b, float: a.isFloat() || b.isFloat()}, nil
}

type valueCmpEval struct {
	op     op
	a, b   node
	float  bool
	ai, bi []int64
	af, bf []float64
}

func (e *valueCmpEval) eval(rec arrow.RecordBatch, val, null []bool) {
	n := len(val)
	fill(null, false)
	if e.float {
		e.af, e.bf = growF(e.af, n), growF(e.bf, n)
		if !e.a.floats(rec, e.af, null) || !e.b.floats(rec, e.bf, null) {
			fill(null, true)
			return
		}
		compareSlices(e.op, e.af, e.bf, val)
		return
	}
	e.ai, e.bi = growI(e.ai, n), growI(e.bi, n)
	if !e.a.ints(rec, e.ai, null) || !e.b.ints(rec, e.bi, null) {
		fill(null, true)
		return
	}
	compareSlices(e.op, e.ai, e.bi, val)
}

func compareSlices[T int64 | float64](o op, a, b []T, val []bool) {
	a, b = a[:len(val)], b[:len(val)]
	switch o {
	case opEq:
		for i := range val {
			val[i] = a[i] == b[i]
		}
	case opNe:
		for i := range val {
			val[i] = a[i] != b[i]
		}
	case opLt:
		for i := range val {
			val[i] = a[i] < b[i]
		}
	case opLe:
		for i := range val {
			val[i] = a[i] <= b[i]
		}
	case opGt:
		for i := range val {
			val[i] = a[i] > b[i]
		}
	case opGe:
		for i := range val {
			val[i] = a[i] >= b[i]
		}
	}
}
