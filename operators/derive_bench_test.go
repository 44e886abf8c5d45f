package operators

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/expr"
	"github.com/shardflow/shardflow/pipeline"
)

// bidSchema is Nexmark's bid, with the price in cents (an int64) as the
// benchmark generates it, and a float64 copy of it.
var bidSchema = arrow.NewSchema([]arrow.Field{
	{Name: "auction", Type: arrow.PrimitiveTypes.Int64},
	{Name: "bidder", Type: arrow.PrimitiveTypes.Int64},
	{Name: "price", Type: arrow.PrimitiveTypes.Int64},
	{Name: "fprice", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "date_time", Type: arrow.FixedWidthTypes.Timestamp_ms},
}, nil)

// bidBatch has n bids; one fprice in a hundred is null.
func bidBatch(mem memory.Allocator, n int) *pipeline.Batch {
	r := rand.New(rand.NewPCG(1, 2))
	b := array.NewRecordBuilder(mem, bidSchema)
	defer b.Release()
	for i := range n {
		price := 100 + r.Int64N(1_000_000)
		b.Field(0).(*array.Int64Builder).Append(1000 + r.Int64N(10_000))
		b.Field(1).(*array.Int64Builder).Append(1000 + r.Int64N(100_000))
		b.Field(2).(*array.Int64Builder).Append(price)
		if i%100 == 99 {
			b.Field(3).(*array.Float64Builder).AppendNull()
		} else {
			b.Field(3).(*array.Float64Builder).Append(float64(price))
		}
		b.Field(4).(*array.TimestampBuilder).Append(arrow.Timestamp(1_700_000_000_000 + int64(i)))
	}
	return &pipeline.Batch{Rec: b.NewRecordBatch(), Shard: "s"}
}

// BenchmarkDerive measures Derive on 64 Ki-row bid batches: Nexmark q1's
// currency conversion price * 0.908 of an int64 and of a float64 column
// with nulls, and an integer expression.
func BenchmarkDerive(b *testing.B) {
	mem := memory.NewGoAllocator()
	batch := bidBatch(mem, 64<<10)
	defer batch.Release()
	for _, tc := range []struct {
		name string
		v    expr.Value
	}{
		{"int_price*0.908", expr.Mul(expr.Col("price"), expr.Float(0.908))},
		{"float_price*0.908", expr.Mul(expr.Col("fprice"), expr.Float(0.908))},
		{"auction%123+bidder", expr.Add(expr.Mod(expr.Col("auction"), expr.Int(123)), expr.Col("bidder"))},
	} {
		b.Run(tc.name, func(b *testing.B) {
			_, op := newOp(b, mem, Derive("out", tc.v), bidSchema)
			ctx := context.Background()
			emit := func(out *pipeline.Batch) { out.Release() }
			m := meter(b, batch.Len())
			for b.Loop() {
				batch.Rec.Retain()
				if err := op.Process(ctx, batch.WithRecord(batch.Rec), emit); err != nil {
					b.Fatal(err)
				}
			}
			m.report()
		})
	}
}
