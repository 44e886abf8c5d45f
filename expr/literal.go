package expr

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"time"
)

// litKind is the kind of a predicate's Go value once its exact type is
// forgotten.
type litKind uint8

const (
	litString litKind = iota + 1
	litInt            // any Go integer that fits an int64
	litUint           // a Go unsigned integer above math.MaxInt64
	litFloat
	litBool
	litTime
)

// literal is a predicate's value as the user gave it, normalised.
type literal struct {
	kind   litKind
	s      string
	i      int64
	u      uint64
	f      float64
	b      bool
	t      time.Time
	goType string // the Go type the user passed, for errors
}

var timeType = reflect.TypeFor[time.Time]()

// makeLiteral normalises v. Named types (type Kind string) are accepted by
// their underlying kind.
func makeLiteral(v any) (literal, error) {
	if v == nil {
		return literal{}, fmt.Errorf("nil value (use IsNull or NotNull)")
	}
	rv := reflect.ValueOf(v)
	lit := literal{goType: rv.Type().String()}
	if rv.Type() == timeType {
		lit.kind, lit.t = litTime, rv.Interface().(time.Time)
		return lit, nil
	}
	switch rv.Kind() {
	case reflect.String:
		lit.kind, lit.s = litString, rv.String()
	case reflect.Bool:
		lit.kind, lit.b = litBool, rv.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		lit.kind, lit.i = litInt, rv.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := rv.Uint()
		if u > math.MaxInt64 {
			lit.kind, lit.u = litUint, u
		} else {
			lit.kind, lit.i = litInt, int64(u)
		}
	case reflect.Float32, reflect.Float64:
		lit.kind, lit.f = litFloat, rv.Float()
		if math.IsNaN(lit.f) {
			return literal{}, fmt.Errorf("NaN value never compares equal; use a range or IS NULL")
		}
	default:
		return literal{}, fmt.Errorf("unsupported value type %s", lit.goType)
	}
	return lit, nil
}

// renderValue renders v as it appears in a predicate's String. Values that
// makeLiteral rejects are rendered with %v so that String never fails.
func renderValue(v any) string {
	lit, err := makeLiteral(v)
	if err != nil {
		if v == nil {
			return "NULL"
		}
		return fmt.Sprintf("%v", v)
	}
	switch lit.kind {
	case litString:
		return strconv.Quote(lit.s)
	case litInt:
		return strconv.FormatInt(lit.i, 10)
	case litUint:
		return strconv.FormatUint(lit.u, 10)
	case litFloat:
		s := strconv.FormatFloat(lit.f, 'g', -1, 64)
		if _, err := strconv.ParseInt(s, 10, 64); err == nil {
			s += ".0" // keep 100.0 apart from the integer 100 in fingerprints
		}
		return s
	case litBool:
		return strconv.FormatBool(lit.b)
	case litTime:
		return "TIMESTAMP " + strconv.Quote(lit.t.UTC().Format(time.RFC3339Nano))
	}
	return fmt.Sprintf("%v", v)
}
