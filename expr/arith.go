package expr

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// colValue is Col.
type colValue struct{ name string }

func (c *colValue) String() string                                { return quoteColumn(c.name) }
func (c *colValue) BindValue(s *arrow.Schema) (BoundValue, error) { return bindValue(c, s) }

func (c *colValue) compile(s *arrow.Schema) (node, error) {
	idx, err := lookup(s, c.name)
	if err != nil {
		return nil, err
	}
	t := s.Field(idx).Type
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64, arrow.TIMESTAMP:
		return &colNode{idx: idx, typ: t}, nil
	case arrow.FLOAT32, arrow.FLOAT64:
		return &colNode{idx: idx, typ: t, float: true}, nil
	default:
		return nil, fmt.Errorf("expr: column %q is %s, not a number", c.name, t)
	}
}

// colNode reads one numeric column.
type colNode struct {
	idx     int
	typ     arrow.DataType
	float   bool
	scratch []int64 // an integer column read as floats
}

func (n *colNode) isFloat() bool { return n.float }

func (n *colNode) column(rec arrow.RecordBatch, rows int, null []bool) arrow.Array {
	if n.idx >= int(rec.NumCols()) {
		return nil
	}
	arr := rec.Column(n.idx)
	if arr.Len() != rows || !arrow.TypeEqual(arr.DataType(), n.typ) {
		return nil
	}
	if arr.NullN() > 0 {
		for i := range null {
			if arr.IsNull(i) {
				null[i] = true
			}
		}
	}
	return arr
}

func (n *colNode) ints(rec arrow.RecordBatch, dst []int64, null []bool) bool {
	arr := n.column(rec, len(dst), null)
	switch a := arr.(type) {
	case *array.Int64:
		copy(dst, a.Int64Values())
	case *array.Timestamp:
		convert(dst, a.TimestampValues())
	case *array.Int32:
		convert(dst, a.Int32Values())
	case *array.Int16:
		convert(dst, a.Int16Values())
	case *array.Int8:
		convert(dst, a.Int8Values())
	case *array.Uint64:
		convert(dst, a.Uint64Values()) // wraps above MaxInt64, as a cast does
	case *array.Uint32:
		convert(dst, a.Uint32Values())
	case *array.Uint16:
		convert(dst, a.Uint16Values())
	case *array.Uint8:
		convert(dst, a.Uint8Values())
	default:
		return false
	}
	return true
}

func (n *colNode) floats(rec arrow.RecordBatch, dst []float64, null []bool) bool {
	if !n.float {
		n.scratch = growI(n.scratch, len(dst))
		if !n.ints(rec, n.scratch, null) {
			return false
		}
		convert(dst, n.scratch)
		return true
	}
	switch a := n.column(rec, len(dst), null).(type) {
	case *array.Float64:
		copy(dst, a.Float64Values())
	case *array.Float32:
		convert(dst, a.Float32Values())
	default:
		return false
	}
	return true
}

type anyNumber interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~float32 | ~float64
}

func convert[D, S anyNumber](dst []D, src []S) {
	for i, v := range src[:len(dst)] {
		dst[i] = D(v)
	}
}

// vop is an arithmetic operator.
type vop uint8

const (
	vAdd vop = iota
	vSub
	vMul
	vDiv
	vMod
)

func (o vop) String() string { return [...]string{"+", "-", "*", "/", "%"}[o] }

// binValue is Add, Sub, Mul, Div or Mod.
type binValue struct {
	op   vop
	a, b Value
}

func (v *binValue) String() string {
	return operand(v.a) + " " + v.op.String() + " " + operand(v.b)
}

// operand renders a sub-expression, in parentheses when it is arithmetic.
func operand(v Value) string {
	if _, ok := v.(*binValue); ok {
		return "(" + v.String() + ")"
	}
	return stringOf(v)
}

func (v *binValue) BindValue(s *arrow.Schema) (BoundValue, error) { return bindValue(v, s) }

func (v *binValue) compile(s *arrow.Schema) (node, error) {
	a, err := compileValue(v.a, s)
	if err != nil {
		return nil, err
	}
	b, err := compileValue(v.b, s)
	if err != nil {
		return nil, err
	}
	if v.op == vMod && (a.isFloat() || b.isFloat()) {
		return nil, fmt.Errorf("expr: %s: %% wants integer operands (use ToInt)", v)
	}
	n := &binNode{op: v.op, a: a, b: b, float: a.isFloat() || b.isFloat()}
	if l, ok := b.(litNode); ok {
		n.lit, n.litI, n.litF = true, l.l.i, l.l.f
		if !l.l.isFloat {
			n.litF = float64(l.l.i)
		}
	}
	return n, nil
}

// binNode computes a op b; a literal right operand is applied in place
// without a scratch column.
type binNode struct {
	op    vop
	a, b  node
	float bool
	lit   bool // b is a literal: litI, litF
	litI  int64
	litF  float64
	si    []int64
	sf    []float64
}

func (n *binNode) isFloat() bool { return n.float }

func (n *binNode) ints(rec arrow.RecordBatch, dst []int64, null []bool) bool {
	if !n.a.ints(rec, dst, null) {
		return false
	}
	if n.lit {
		intOpConst(n.op, dst, n.litI, null)
		return true
	}
	n.si = growI(n.si, len(dst))
	if !n.b.ints(rec, n.si, null) {
		return false
	}
	intOp(n.op, dst, n.si, null)
	return true
}

func (n *binNode) floats(rec arrow.RecordBatch, dst []float64, null []bool) bool {
	if !n.a.floats(rec, dst, null) {
		return false
	}
	if n.lit {
		floatOpConst(n.op, dst, n.litF, null)
		return true
	}
	n.sf = growF(n.sf, len(dst))
	if !n.b.floats(rec, n.sf, null) {
		return false
	}
	floatOp(n.op, dst, n.sf, null)
	return true
}

func intOpConst(op vop, dst []int64, c int64, null []bool) {
	switch op {
	case vAdd:
		for i := range dst {
			dst[i] += c
		}
	case vSub:
		for i := range dst {
			dst[i] -= c
		}
	case vMul:
		for i := range dst {
			dst[i] *= c
		}
	case vDiv, vMod:
		if c == 0 {
			fill(null, true)
			clear(dst)
			return
		}
		if c == -1 { // MinInt64 / -1 overflows: negate, as it wraps
			for i := range dst {
				if op == vDiv {
					dst[i] = -dst[i]
				} else {
					dst[i] = 0
				}
			}
			return
		}
		if op == vDiv {
			for i := range dst {
				dst[i] /= c
			}
		} else {
			for i := range dst {
				dst[i] %= c
			}
		}
	}
}

func intOp(op vop, dst, b []int64, null []bool) {
	b = b[:len(dst)]
	switch op {
	case vAdd:
		for i := range dst {
			dst[i] += b[i]
		}
	case vSub:
		for i := range dst {
			dst[i] -= b[i]
		}
	case vMul:
		for i := range dst {
			dst[i] *= b[i]
		}
	case vDiv, vMod:
		for i := range dst {
			switch d := b[i]; {
			case d == 0:
				null[i], dst[i] = true, 0
			case d == -1 && op == vDiv:
				dst[i] = -dst[i]
			case d == -1:
				dst[i] = 0
			case op == vDiv:
				dst[i] /= d
			default:
				dst[i] %= d
			}
		}
	}
}

func floatOpConst(op vop, dst []float64, c float64, null []bool) {
	switch op {
	case vAdd:
		for i := range dst {
			dst[i] += c
		}
	case vSub:
		for i := range dst {
			dst[i] -= c
		}
	case vMul:
		for i := range dst {
			dst[i] *= c
		}
	case vDiv:
		if c == 0 {
			fill(null, true)
			clear(dst)
			return
		}
		for i := range dst {
			dst[i] /= c
		}
	}
}

func floatOp(op vop, dst, b []float64, null []bool) {
	b = b[:len(dst)]
	switch op {
	case vAdd:
		for i := range dst {
			dst[i] += b[i]
		}
	case vSub:
		for i := range dst {
			dst[i] -= b[i]
		}
	case vMul:
		for i := range dst {
			dst[i] *= b[i]
		}
	case vDiv:
		for i := range dst {
			if b[i] == 0 {
				null[i], dst[i] = true, 0
				continue
			}
			dst[i] /= b[i]
		}
	}
}
