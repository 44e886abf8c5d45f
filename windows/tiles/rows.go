package tiles

import (
	"math"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/shardflow/shardflow/pipeline"
)

// rows builds output batches on one side: one row per (entity, tile), the
// features as of the end of the tile, emitted emitRows at a time.
type rows struct {
	o       *Operator
	b       *array.RecordBuilder
	n       int // rows built and not emitted yet
	side    pipeline.Side
	emit    pipeline.Emit
	emitted int64
}

func newRows(o *Operator, side pipeline.Side, emit pipeline.Emit) *rows {
	return &rows{o: o, b: array.NewRecordBuilder(o.mem, o.p.out), side: side, emit: emit}
}

// finish emits the rows built since the last batch, releases the builder,
// and returns how many rows it emitted in all.
func (r *rows) finish() int64 {
	r.flush()
	r.b.Release()
	return r.emitted
}

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
	if r.n++; r.n == emitRows {
		r.flush()
	}
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

// flush emits the rows built so far as one batch.
func (r *rows) flush() {
	if r.n == 0 {
		return
	}
	rec := r.b.NewRecordBatch()
	lo, hi := minMaxTime(rec)
	r.emitted += int64(r.n)
	r.n = 0
	r.emit(&pipeline.Batch{Rec: rec, Side: r.side, MinTime: lo, MaxTime: hi})
}

// minMaxTime bounds the window_end column of rec.
func minMaxTime(rec arrow.RecordBatch) (lo, hi int64) {
	lo, hi = math.MaxInt64, math.MinInt64
	for _, v := range rec.Column(1).(*array.Timestamp).Values() {
		lo, hi = min(lo, int64(v)), max(hi, int64(v))
	}
	return lo, hi
}
