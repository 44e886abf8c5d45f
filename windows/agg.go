package windows

import (
	"strconv"

	"github.com/shardflow/shardflow/expr"
)

type aggKind uint8

const (
	kindInvalid aggKind = iota
	kindCount
	kindCountIf
	kindSum
	kindSumIf
	kindMin
	kindMax
	kindAvg
	kindCountDistinct
	kindFirst
	kindLast
	kindCustom // an AggFunc (udaf.go)
	kindAnyIf  // session windows only, for now
)

var kindNames = [...]string{
	kindInvalid:       "invalid",
	kindCount:         "count",
	kindCountIf:       "count_if",
	kindSum:           "sum",
	kindSumIf:         "sum_if",
	kindMin:           "min",
	kindMax:           "max",
	kindAvg:           "avg",
	kindCountDistinct: "count_distinct",
	kindFirst:         "first",
	kindLast:          "last",
	kindCustom:        "custom",
	kindAnyIf:         "any_if",
}

func (k aggKind) String() string { return kindNames[k] }

// Agg is one aggregate column of a window's output. Build it with Count,
// CountIf, Sum, SumIf, Min, Max, Avg, CountDistinct, First, Last,
// ApproxCountDistinct, Quantile, TopK or Custom; the zero Agg is invalid. Its column and predicate are checked when the window stage is bound
// to its input schema.
//
// Nulls: Count counts rows; every other aggregate skips null values. A sum of
// no values is 0; min, max and avg of no values are null.
type Agg struct {
	kind aggKind
	name string
	col  string
	pred expr.Predicate
	fn   AggFunc // kindCustom
}

// Count counts the window's rows of a key (int64).
func Count(name string) Agg { return Agg{kind: kindCount, name: name} }

// CountIf counts the rows that satisfy pred (int64).
func CountIf(name string, pred expr.Predicate) Agg {
	return Agg{kind: kindCountIf, name: name, pred: pred}
}

// Sum adds up col: int64 for integer columns, float64 for floating-point ones.
// Integer sums wrap around on int64 overflow, as a BIGINT SUM does in Flink
// (Java long arithmetic); uint64 values above math.MaxInt64 add as their
// two's-complement int64. Sum a float64 column where totals can exceed
// ±9.2e18. Float sums follow IEEE 754: a NaN makes the sum NaN.
func Sum(name, col string) Agg { return Agg{kind: kindSum, name: name, col: col} }

// SumIf adds up col over the rows that satisfy pred.
func SumIf(name, col string, pred expr.Predicate) Agg {
	return Agg{kind: kindSumIf, name: name, col: col, pred: pred}
}

// Min is the smallest value of a numeric or timestamp column, of the column's type.
func Min(name, col string) Agg { return Agg{kind: kindMin, name: name, col: col} }

// Max is the largest value of a numeric or timestamp column, of the column's type.
func Max(name, col string) Agg { return Agg{kind: kindMax, name: name, col: col} }

// Avg is the mean of a numeric column (float64).
func Avg(name, col string) Agg { return Agg{kind: kindAvg, name: name, col: col} }

// CountDistinct counts the distinct values of a string or integer column,
// exactly (int64).
func CountDistinct(name, col string) Agg {
	return Agg{kind: kindCountDistinct, name: name, col: col}
}

// First is the value of col (a number or timestamp, of the column's type) at
// the row with the earliest event time. Ties: within a shard the row that
// arrived first wins; across shards the shard whose name sorts first wins, so
// the result is deterministic for a given assignment of rows to shards.
// Null values are skipped; no value gives null.
func First(name, col string) Agg { return Agg{kind: kindFirst, name: name, col: col} }

// Last is the value of col at the row with the latest event time. Ties: within
// a shard the row that arrived last wins; across shards the shard whose name
// sorts last wins. Null values are skipped; no value gives null.
func Last(name, col string) Agg { return Agg{kind: kindLast, name: name, col: col} }

// AnyIf is whether any row satisfies pred (bool; false for none). Session
// windows only, for now: a Tumbling or Sliding spec with it fails to bind.
func AnyIf(name string, pred expr.Predicate) Agg {
	return Agg{kind: kindAnyIf, name: name, pred: pred}
}

// Name is the aggregate's output column name.
func (a Agg) Name() string { return a.name }

// String renders the aggregate in stage names: `count(events)`,
// `count_if(page_views: event_type = "page_view")`, `sum(revenue: price)`,
// `sum_if(revenue: price, event_type = "purchase")`.
func (a Agg) String() string {
	s := a.kindName() + "(" + a.name
	switch a.kind {
	case kindCount:
	case kindCountIf, kindAnyIf:
		s += ": " + predString(a.pred)
	case kindSumIf:
		s += ": " + a.col + ", " + predString(a.pred)
	default:
		s += ": " + a.col
	}
	return s + ")"
}

func predString(p expr.Predicate) string {
	if p == nil {
		return "<nil>"
	}
	return p.String()
}

// label is how errors name the aggregate: sum("revenue").
func (a Agg) label() string { return a.kindName() + "(" + strconv.Quote(a.name) + ")" }
