package expr

import (
	"fmt"
	"math"
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// op is a comparison operator.
type op uint8

const (
	opEq op = iota
	opNe
	opLt
	opLe
	opGt
	opGe
)

func (o op) String() string {
	return [...]string{"=", "!=", "<", "<=", ">", ">="}[o]
}

// ordered reports whether the operator needs an order, not only equality.
func (o op) ordered() bool { return o >= opLt }

// kernel fills out[i] with the result for row i of arr, ignoring validity.
// It returns false when arr is not of the type it was compiled for.
type kernel func(arr arrow.Array, out []bool) bool

type integer interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

type number interface {
	integer | ~float32 | ~float64
}

// compareSlice is the column-at-a-time comparison loop.
func compareSlice[T number | ~string](vals []T, lit T, o op, out []bool) {
	out = out[:len(vals)]
	switch o {
	case opEq:
		for i, v := range vals {
			out[i] = v == lit
		}
	case opNe:
		for i, v := range vals {
			out[i] = v != lit
		}
	case opLt:
		for i, v := range vals {
			out[i] = v < lit
		}
	case opLe:
		for i, v := range vals {
			out[i] = v <= lit
		}
	case opGt:
		for i, v := range vals {
			out[i] = v > lit
		}
	case opGe:
		for i, v := range vals {
			out[i] = v >= lit
		}
	}
}

// compareFloat compares a float column widened to float64.
func compareFloat[T ~float32 | ~float64](vals []T, lit float64, o op, out []bool) {
	out = out[:len(vals)]
	switch o {
	case opEq:
		for i, v := range vals {
			out[i] = float64(v) == lit
		}
	case opNe:
		for i, v := range vals {
			out[i] = float64(v) != lit
		}
	case opLt:
		for i, v := range vals {
			out[i] = float64(v) < lit
		}
	case opLe:
		for i, v := range vals {
			out[i] = float64(v) <= lit
		}
	case opGt:
		for i, v := range vals {
			out[i] = float64(v) > lit
		}
	case opGe:
		for i, v := range vals {
			out[i] = float64(v) >= lit
		}
	}
}

// constant is the result of comparing every value of a column with a literal
// outside the column's range: rel < 0 when the literal is below every value.
func constant(o op, rel int) bool {
	switch o {
	case opEq:
		return false
	case opNe:
		return true
	case opLt, opLe:
		return rel > 0
	default: // opGt, opGe
		return rel < 0
	}
}

// fitInt converts an integer literal to T; rel is -1 or +1 when it lies below
// or above T's range.
func fitInt[T integer](lit literal) (v T, rel int) {
	var zero T
	bits := uint(unsafe.Sizeof(zero)) * 8
	if signed := ^zero < 0; signed {
		if lit.kind == litUint {
			return 0, 1
		}
		lo, hi := int64(-1)<<(bits-1), int64(1)<<(bits-1)-1
		switch {
		case lit.i < lo:
			return 0, -1
		case lit.i > hi:
			return 0, 1
		}
		return T(lit.i), 0
	}
	u := lit.u
	if lit.kind == litInt {
		if lit.i < 0 {
			return 0, -1
		}
		u = uint64(lit.i)
	}
	hi := uint64(math.MaxUint64)
	if bits < 64 {
		hi = uint64(1)<<bits - 1
	}
	if u > hi {
		return 0, 1
	}
	return T(u), 0
}

type valuer[T any] interface {
	arrow.Array
	Values() []T
}

// intKernel compiles an integer comparison for arrays of type A.
func intKernel[T integer, A valuer[T]](lit literal, o op) kernel {
	v, rel := fitInt[T](lit)
	return func(arr arrow.Array, out []bool) bool {
		a, ok := arr.(A)
		if !ok {
			return false
		}
		if rel != 0 {
			fill(out, constant(o, rel))
			return true
		}
		compareSlice(a.Values(), v, o, out)
		return true
	}
}

func floatKernel[T ~float32 | ~float64, A valuer[T]](lit float64, o op) kernel {
	return func(arr arrow.Array, out []bool) bool {
		a, ok := arr.(A)
		if !ok {
			return false
		}
		compareFloat(a.Values(), lit, o, out)
		return true
	}
}

type stringArray interface {
	arrow.Array
	Value(int) string
}

func stringKernel[A stringArray](lit string, o op) kernel {
	return func(arr arrow.Array, out []bool) bool {
		a, ok := arr.(A)
		if !ok {
			return false
		}
		n := a.Len()
		out = out[:n]
		switch o {
		case opEq:
			for i := range n {
				out[i] = a.Value(i) == lit
			}
		case opNe:
			for i := range n {
				out[i] = a.Value(i) != lit
			}
		}
		return true
	}
}

func boolKernel(lit bool, o op) kernel {
	return func(arr arrow.Array, out []bool) bool {
		a, ok := arr.(*array.Boolean)
		if !ok {
			return false
		}
		want := lit == (o == opEq)
		for i := range a.Len() {
			out[i] = a.Value(i) == want
		}
		return true
	}
}

func timestampKernel(v int64, rel int, o op) kernel {
	return func(arr arrow.Array, out []bool) bool {
		a, ok := arr.(*array.Timestamp)
		if !ok {
			return false
		}
		if rel != 0 {
			fill(out, constant(o, rel))
			return true
		}
		compareSlice(a.TimestampValues(), arrow.Timestamp(v), o, out)
		return true
	}
}

func fill(out []bool, v bool) {
	for i := range out {
		out[i] = v
	}
}

// timestampLiteral converts lit to the unit of a timestamp column: a
// time.Time exactly, an integer as milliseconds since the epoch. rel is -1
// or +1 when the time lies below or above what the unit can represent in an
// int64 (time.Time reaches far beyond nanoseconds' 1677..2262).
func timestampLiteral(lit literal, unit arrow.TimeUnit) (v int64, rel int, err error) {
	switch lit.kind {
	case litTime:
		t := lit.t
		if rel := timeBeyondUnit(t, unit); rel != 0 {
			return 0, rel, nil
		}
		v, err := timeInUnit(t, unit)
		return v, 0, err
	case litInt:
		v, err := millisInUnit(lit.i, unit)
		return v, 0, err
	}
	return 0, 0, fmt.Errorf("%s value does not fit a timestamp column (use time.Time or int64 milliseconds)", lit.goType)
}

// timeBeyondUnit reports whether t in unit overflows int64: -1 below, +1
// above, 0 when it fits.
func timeBeyondUnit(t time.Time, unit arrow.TimeUnit) int {
	perSec := int64(time.Second / unit.Multiplier())
	sec, frac := t.Unix(), int64(t.Nanosecond())/int64(unit.Multiplier())
	switch {
	case sec < math.MinInt64/perSec:
		return -1
	case sec > math.MaxInt64/perSec, sec*perSec > math.MaxInt64-frac:
		return 1
	}
	return 0
}

func timeInUnit(t time.Time, unit arrow.TimeUnit) (int64, error) {
	switch unit {
	case arrow.Second:
		if t.Nanosecond() != 0 {
			return 0, fmt.Errorf("time %s has sub-second precision, the column has seconds", t.Format(time.RFC3339Nano))
		}
		return t.Unix(), nil
	case arrow.Millisecond:
		if t.Nanosecond()%int(time.Millisecond) != 0 {
			return 0, fmt.Errorf("time %s has sub-millisecond precision, the column has milliseconds", t.Format(time.RFC3339Nano))
		}
		return t.UnixMilli(), nil
	case arrow.Microsecond:
		if t.Nanosecond()%int(time.Microsecond) != 0 {
			return 0, fmt.Errorf("time %s has sub-microsecond precision, the column has microseconds", t.Format(time.RFC3339Nano))
		}
		return t.UnixMicro(), nil
	default:
		return t.UnixNano(), nil
	}
}

func millisInUnit(ms int64, unit arrow.TimeUnit) (int64, error) {
	switch unit {
	case arrow.Second:
		if ms%1000 != 0 {
			return 0, fmt.Errorf("%d ms is not a whole second, the column has seconds", ms)
		}
		return ms / 1000, nil
	case arrow.Millisecond:
		return ms, nil
	case arrow.Microsecond:
		if ms > math.MaxInt64/1000 || ms < math.MinInt64/1000 {
			return 0, fmt.Errorf("%d ms overflows microseconds", ms)
		}
		return ms * 1000, nil
	default:
		if ms > math.MaxInt64/1_000_000 || ms < math.MinInt64/1_000_000 {
			return 0, fmt.Errorf("%d ms overflows nanoseconds", ms)
		}
		return ms * 1_000_000, nil
	}
}

// compileCompare returns the kernel of `field o lit`.
func compileCompare(field arrow.Field, o op, lit literal) (kernel, error) {
	mismatch := func() error {
		return fmt.Errorf("%s value does not fit %s column %q", lit.goType, field.Type, field.Name)
	}
	isInt := lit.kind == litInt || lit.kind == litUint
	switch dt := field.Type.(type) {
	case *arrow.StringType, *arrow.LargeStringType, *arrow.StringViewType:
		if lit.kind != litString {
			return nil, mismatch()
		}
		if o.ordered() {
			return nil, fmt.Errorf("%s needs a numeric or timestamp column, %q is %s", o, field.Name, field.Type)
		}
		switch dt.(type) {
		case *arrow.StringType:
			return stringKernel[*array.String](lit.s, o), nil
		case *arrow.LargeStringType:
			return stringKernel[*array.LargeString](lit.s, o), nil
		default:
			return stringKernel[*array.StringView](lit.s, o), nil
		}
	case *arrow.BooleanType:
		if lit.kind != litBool {
			return nil, mismatch()
		}
		if o.ordered() {
			return nil, fmt.Errorf("%s needs a numeric or timestamp column, %q is %s", o, field.Name, field.Type)
		}
		return boolKernel(lit.b, o), nil
	case *arrow.TimestampType:
		v, rel, err := timestampLiteral(lit, dt.Unit)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", field.Name, err)
		}
		return timestampKernel(v, rel, o), nil
	case *arrow.Float32Type, *arrow.Float64Type:
		var f float64
		switch lit.kind {
		case litFloat:
			f = lit.f
		case litInt:
			f = float64(lit.i)
		case litUint:
			f = float64(lit.u)
		default:
			return nil, mismatch()
		}
		if _, ok := dt.(*arrow.Float32Type); ok {
			return floatKernel[float32, *array.Float32](f, o), nil
		}
		return floatKernel[float64, *array.Float64](f, o), nil
	}
	if !isInt {
		return nil, mismatch()
	}
	switch field.Type.ID() {
	case arrow.INT8:
		return intKernel[int8, *array.Int8](lit, o), nil
	case arrow.INT16:
		return intKernel[int16, *array.Int16](lit, o), nil
	case arrow.INT32:
		return intKernel[int32, *array.Int32](lit, o), nil
	case arrow.INT64:
		return intKernel[int64, *array.Int64](lit, o), nil
	case arrow.UINT8:
		return intKernel[uint8, *array.Uint8](lit, o), nil
	case arrow.UINT16:
		return intKernel[uint16, *array.Uint16](lit, o), nil
	case arrow.UINT32:
		return intKernel[uint32, *array.Uint32](lit, o), nil
	case arrow.UINT64:
		return intKernel[uint64, *array.Uint64](lit, o), nil
	}
	return nil, fmt.Errorf("column %q has type %s, which predicates do not support", field.Name, field.Type)
}
