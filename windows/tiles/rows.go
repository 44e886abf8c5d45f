package tiles

import (
	"math"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/shardflow/shardflow/pipeline"
)

// rows builds output batches: one row per (entity, tile), the features as of
// the end of the tile.
type rows struct {
	o *Operator
	b *array.RecordBuilder
	n int
}

func newRows(o *Operator) *rows { return &rows{o: o, b: array.NewRecordBuilder(o.mem, o.p.out)} }

func (r *rows) len() int { return r.n }

func (r *rows) release() { r.b.Release() }

// add appends the row of e's tile at pos: each windowed feature sums the
// tiles of its window that ends with that tile, and the Last features are the
// tile's latest record's.
func (r *rows) add(e *entity, pos int) {
	p := r.o.p
	T := e.idx[pos]
	start := T * p.tile
	r.b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(start))
	r.b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(start + p.tile))
	r.b.Field(2).(*array.StringBuilder).Append(e.key)
	for fi := range p.feats {
		f := &p.feats[fi]
		fb := r.b.Field(3 + fi)
		switch f.kind {
		case kindCount, kindCountIf, kindSum, kindSumIf:
			if !f.float {
				fb.(*array.Int64Builder).Append(e.intSum(first(e, pos, T-f.over), pos, p.nInts, f.slot))
				break
			}
			var sum float64
			for j := pos; j >= 0 && e.idx[j] > T-f.over; j-- {
				sum += e.floats[j*p.nFloats+f.slot]
			}
			fb.(*array.Float64Builder).Append(sum)
		case kindLastTime:
			fb.(*array.TimestampBuilder).Append(arrow.Timestamp(e.lastTs[pos]))
		case kindLast:
			v := e.lasts[pos*p.nLasts+f.slot]
			switch b := fb.(type) {
			case *array.StringBuilder:
				appendOrNull(b, v.null, func() { b.Append(v.s) })
			case *array.Int64Builder:
				appendOrNull(b, v.null, func() { b.Append(v.i) })
			case *array.Float64Builder:
				appendOrNull(b, v.null, func() { b.Append(math.Float64frombits(uint64(v.i))) })
			case *array.TimestampBuilder:
				appendOrNull(b, v.null, func() { b.Append(arrow.Timestamp(v.i)) })
			}
		}
	}
	r.b.Field(3 + len(p.feats)).(*array.Int64Builder).Append(e.records(first(e, pos, T-p.maxOver), pos))
	r.n++
}

// first is the position of e's first tile after index after, at most pos.
func first(e *entity, pos int, after int64) int {
	k, _ := slices.BinarySearch(e.idx[:pos+1], after+1)
	return k
}

func appendOrNull(b array.Builder, null bool, appendValue func()) {
	if null {
		b.AppendNull()
	} else {
		appendValue()
	}
}

// flush emits the rows built so far as one batch on side, with the shard and
// positions of from, and returns how many rows it emitted.
func (r *rows) flush(from *pipeline.Batch, side pipeline.Side, emit pipeline.Emit) int64 {
	if r.n == 0 {
		return 0
	}
	n := int64(r.n)
	out := from.WithRecord(r.b.NewRecordBatch())
	out.Rows, out.Side = nil, side
	out.MinTime, out.MaxTime = minMaxTime(out.Rec)
	r.n = 0
	emit(out)
	return n
}

// minMaxTime bounds the window_end column of rec.
func minMaxTime(rec arrow.RecordBatch) (lo, hi int64) {
	lo, hi = math.MaxInt64, math.MinInt64
	for _, v := range rec.Column(1).(*array.Timestamp).Values() {
		lo, hi = min(lo, int64(v)), max(hi, int64(v))
	}
	return lo, hi
}
