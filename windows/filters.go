package windows

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/shardflow/shardflow/expr"
)

// rowFilters decide which rows of a batch each aggregate of a stage takes:
// its predicate (CountIf, SumIf, AnyIf), bound once and evaluated once per
// batch however many aggregates share it, and the validity of its column.
type rowFilters struct {
	preds  []expr.Bound // the distinct predicates
	predOf []int        // per aggregate: its index into preds, or -1
	masks  [][]bool     // per predicate: its result on the batch
	keep   []bool       // scratch of keepOf
}

// bindFilters binds the predicates of aggs to the schema in.
func bindFilters(aggs []aggPlan, in *arrow.Schema) (rowFilters, error) {
	preds := make([]expr.Predicate, len(aggs))
	for i, ap := range aggs {
		preds[i] = ap.pred
	}
	var f rowFilters
	bad, err := 0, error(nil)
	if f.preds, f.predOf, bad, err = expr.BindShared(preds, in); err != nil {
		return f, fmt.Errorf("windows: %s: %w", aggs[bad].label(), err)
	}
	f.masks = make([][]bool, len(f.preds))
	return f, nil
}

// match evaluates every predicate on rec, of n rows.
func (f *rowFilters) match(stage string, rec arrow.RecordBatch, n int) error {
	for pi, pb := range f.preds {
		f.masks[pi] = pb.Match(rec, f.masks[pi])
		if len(f.masks[pi]) < n {
			return fmt.Errorf("windows: %s: predicate returned %d results for %d rows", stage, len(f.masks[pi]), n)
		}
	}
	return nil
}

// keepOf returns, per row of the batch that match saw last, whether
// aggregate ai takes it: its predicate holds and its column arr (nil for
// none) is valid there; nil when it takes every row. It also returns arr.
func (f *rowFilters) keepOf(ai int, ap *aggPlan, rec arrow.RecordBatch) ([]bool, arrow.Array) {
	var keep []bool
	if pi := f.predOf[ai]; pi >= 0 {
		keep = f.masks[pi]
	}
	if ap.col < 0 {
		return keep, nil
	}
	arr := rec.Column(ap.col)
	if arr.NullN() > 0 {
		keep = f.validMask(arr, keep)
	}
	return keep, arr
}

// validMask returns, per row, whether arr's value is valid and keep (if not
// nil) holds. It reuses f.keep.
func (f *rowFilters) validMask(arr arrow.Array, keep []bool) []bool {
	n := arr.Len()
	f.keep = grow(f.keep, n)
	out := f.keep
	for i := range n {
		out[i] = arr.IsValid(i) && (keep == nil || keep[i])
	}
	return out
}
