package expr

import (
	"fmt"
	"math"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
)

// Value is a numeric expression computed for every row of a batch: a
// column (Col), a literal (Int, Float), arithmetic on them (Add, Sub, Mul,
// Div, Mod) or a cast (ToInt, ToFloat). Its result is an int64 when every
// operand is an integer, else a float64. operators.Derive adds one as a
// column; CompareValues and its siblings filter on one.
//
// A row where any operand is null is null, and so is a division or modulo
// by zero, integer or float (never ±Inf, never an error or a panic).
// Integer arithmetic wraps on overflow as Go's does (MaxInt64 + 1 is
// MinInt64, MinInt64 / -1 is MinInt64); float arithmetic follows IEEE 754
// (an overflow is ±Inf).
type Value interface {
	// String renders the expression as it reads, e.g. `price * 0.908`; it is
	// part of a job's fingerprint.
	String() string
	// BindValue checks the expression against schema (the columns exist and
	// are numeric, Mod has integer operands) and returns its evaluator.
	BindValue(schema *arrow.Schema) (BoundValue, error)
}

// BoundValue evaluates a Value over batches of the schema it was bound to.
// It is used by one goroutine at a time.
type BoundValue interface {
	// Type is the result's type: arrow.PrimitiveTypes.Int64 or Float64.
	Type() arrow.DataType
	// Eval computes the value of every row of rec into ints (for an int64
	// result) or floats (for a float64 one), which must have one entry per
	// row, and sets null[i] for the rows whose value is null (it leaves the
	// other entries of null alone: clear it first). It fails when rec is not
	// of the schema the value was bound to.
	Eval(rec arrow.RecordBatch, ints []int64, floats []float64, null []bool) error
}

// Col is the value of numeric column name: any integer type reads as an
// int64, float32 and float64 as a float64, and a timestamp as the int64
// count of its unit since the epoch (milliseconds for timestamp[ms], so
// Div(Col("ts"), Int(1000)) is Unix seconds). A uint64 above MaxInt64 wraps
// to a negative int64, as a Go conversion does.
func Col(name string) Value { return &colValue{name: name} }

// Int is the integer literal v.
func Int(v int64) Value { return &litValue{isFloat: false, i: v} }

// Float is the floating-point literal v.
func Float(v float64) Value { return &litValue{isFloat: true, f: v} }

// Add is a + b.
func Add(a, b Value) Value { return &binValue{op: vAdd, a: a, b: b} }

// Sub is a - b.
func Sub(a, b Value) Value { return &binValue{op: vSub, a: a, b: b} }

// Mul is a * b.
func Mul(a, b Value) Value { return &binValue{op: vMul, a: a, b: b} }

// Div is a / b: truncated toward zero when both are integers. A division by
// zero is null.
func Div(a, b Value) Value { return &binValue{op: vDiv, a: a, b: b} }

// Mod is the remainder of the integer division a / b, with the sign of a
// (as Go's %). Both operands must be integers; a modulo by zero is null.
func Mod(a, b Value) Value { return &binValue{op: vMod, a: a, b: b} }

// ToFloat is v as a float64.
func ToFloat(v Value) Value { return &castValue{toFloat: true, v: v} }

// ToInt is v as an int64, truncated toward zero; a NaN or a float out of
// int64's range is null.
func ToInt(v Value) Value { return &castValue{toFloat: false, v: v} }

// node is the compiled form of a Value: it evaluates into a Go slice of its
// kind and marks nulls. Nodes own their scratch space.
type node interface {
	isFloat() bool
	// ints and floats fill dst (of the node's kind) and set null[i] for null
	// rows; ok is false when rec does not fit the bound schema.
	ints(rec arrow.RecordBatch, dst []int64, null []bool) bool
	floats(rec arrow.RecordBatch, dst []float64, null []bool) bool
}

// compiler is implemented by this package's values.
type compiler interface {
	compile(schema *arrow.Schema) (node, error)
}

func compileValue(v Value, schema *arrow.Schema) (node, error) {
	switch v := v.(type) {
	case nil:
		return nil, fmt.Errorf("expr: nil value")
	case compiler:
		return v.compile(schema)
	default:
		return nil, fmt.Errorf("expr: value %s of type %T is not of package expr", v.String(), v)
	}
}

// boundValue is the BoundValue of every value of the package.
type boundValue struct {
	n node
}

func bindValue(v compiler, schema *arrow.Schema) (BoundValue, error) {
	n, err := v.compile(schema)
	if err != nil {
		return nil, err
	}
	return &boundValue{n: n}, nil
}

func (b *boundValue) Type() arrow.DataType {
	if b.n.isFloat() {
		return arrow.PrimitiveTypes.Float64
	}
	return arrow.PrimitiveTypes.Int64
}

func (b *boundValue) Eval(rec arrow.RecordBatch, ints []int64, floats []float64, null []bool) error {
	n := int(rec.NumRows())
	if len(null) != n {
		return fmt.Errorf("expr: %d null flags for %d rows", len(null), n)
	}
	var ok bool
	if b.n.isFloat() {
		if len(floats) != n {
			return fmt.Errorf("expr: %d floats for %d rows", len(floats), n)
		}
		ok = b.n.floats(rec, floats, null)
	} else {
		if len(ints) != n {
			return fmt.Errorf("expr: %d ints for %d rows", len(ints), n)
		}
		ok = b.n.ints(rec, ints, null)
	}
	if !ok {
		return fmt.Errorf("expr: batch is not of the schema the value was bound to")
	}
	return nil
}

// litValue is Int or Float.
type litValue struct {
	isFloat bool
	i       int64
	f       float64
}

func (l *litValue) String() string {
	if !l.isFloat {
		return strconv.FormatInt(l.i, 10)
	}
	return renderValue(l.f)
}

func (l *litValue) BindValue(s *arrow.Schema) (BoundValue, error) { return bindValue(l, s) }

func (l *litValue) compile(*arrow.Schema) (node, error) {
	if l.isFloat && math.IsNaN(l.f) {
		return nil, fmt.Errorf("expr: NaN literal")
	}
	return litNode{*l}, nil
}

type litNode struct{ l litValue }

func (n litNode) isFloat() bool { return n.l.isFloat }

func (n litNode) ints(_ arrow.RecordBatch, dst []int64, _ []bool) bool {
	for i := range dst {
		dst[i] = n.l.i
	}
	return true
}

func (n litNode) floats(_ arrow.RecordBatch, dst []float64, _ []bool) bool {
	v := n.l.f
	if !n.l.isFloat {
		v = float64(n.l.i)
	}
	for i := range dst {
		dst[i] = v
	}
	return true
}

// castValue is ToInt or ToFloat.
type castValue struct {
	toFloat bool
	v       Value
}

func (c *castValue) String() string {
	if c.toFloat {
		return "CAST(" + stringOf(c.v) + " AS DOUBLE)"
	}
	return "CAST(" + stringOf(c.v) + " AS BIGINT)"
}

func (c *castValue) BindValue(s *arrow.Schema) (BoundValue, error) { return bindValue(c, s) }

func (c *castValue) compile(s *arrow.Schema) (node, error) {
	in, err := compileValue(c.v, s)
	if err != nil {
		return nil, err
	}
	if in.isFloat() == c.toFloat {
		return in, nil // already of that kind
	}
	return &castNode{toFloat: c.toFloat, in: in}, nil
}

type castNode struct {
	toFloat bool
	in      node
	fs      []float64
	is      []int64
}

func (n *castNode) isFloat() bool { return n.toFloat }

// ints converts the input's floats, truncating; NaN and out of range are null.
func (n *castNode) ints(rec arrow.RecordBatch, dst []int64, null []bool) bool {
	n.fs = growF(n.fs, len(dst))
	if !n.in.floats(rec, n.fs, null) {
		return false
	}
	for i, f := range n.fs {
		if f != f || f >= 0x1p63 || f < -0x1p63 {
			null[i] = true
			dst[i] = 0
			continue
		}
		dst[i] = int64(f)
	}
	return true
}

func (n *castNode) floats(rec arrow.RecordBatch, dst []float64, null []bool) bool {
	n.is = growI(n.is, len(dst))
	if !n.in.ints(rec, n.is, null) {
		return false
	}
	for i, v := range n.is {
		dst[i] = float64(v)
	}
	return true
}

func stringOf(v Value) string {
	if v == nil {
		return "<nil>"
	}
	return v.String()
}

func growI(s []int64, n int) []int64 {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]int64, n, n+n/4)
}

func growF(s []float64, n int) []float64 {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]float64, n, n+n/4)
}
