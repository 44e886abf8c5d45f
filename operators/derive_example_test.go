package operators_test

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/expr"
	"github.com/shardflow/shardflow/operators"
	"github.com/shardflow/shardflow/pipeline"
)

// Nexmark's query 1 converts bid prices from dollars to euros: Derive
// appends the computed column, a float64 since one operand is a float, and
// a Filter after it can test the new column. A null price gives a null
// price_eur.
func ExampleDerive() {
	bids := arrow.NewSchema([]arrow.Field{
		{Name: "auction", Type: arrow.PrimitiveTypes.Int64},
		{Name: "price", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	stages := []pipeline.Stage{
		operators.Derive("price_eur", expr.Mul(expr.Col("price"), expr.Float(0.908))),
		operators.Filter(expr.Not(expr.LtValue(expr.Col("price_eur"), expr.Int(1)))),
	}
	env := pipeline.OperatorEnv{Mem: memory.DefaultAllocator, Source: "nexmark", Shard: "shard-0"}
	in := bids
	var ops []pipeline.Operator
	for _, s := range stages {
		out, newOp, err := s.Bind(in)
		if err != nil {
			fmt.Println(err)
			return
		}
		op, err := newOp(env)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(s.Name())
		ops, in = append(ops, op), out
	}
	fmt.Println(in)

	b := array.NewRecordBuilder(env.Mem, bids)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1000, 1001, 1002, 1003}, nil)
	b.Field(1).(*array.Int64Builder).AppendValues([]int64{250, 1, 0, 10_000}, []bool{true, true, false, true})
	batch := &pipeline.Batch{Rec: b.NewRecordBatch(), Shard: "shard-0"}

	ctx := context.Background()
	err := ops[0].Process(ctx, batch, func(b *pipeline.Batch) {
		if err := ops[1].Process(ctx, b, func(b *pipeline.Batch) {
			defer b.Release()
			auction, eur := b.Rec.Column(0).(*array.Int64), b.Rec.Column(2).(*array.Float64)
			for i := range b.Len() {
				fmt.Printf("auction %d: %.2f EUR\n", auction.Value(i), eur.Value(i))
			}
		}); err != nil {
			fmt.Println(err)
		}
	})
	if err != nil {
		fmt.Println(err)
	}
	// Output:
	// derive(price_eur = price * 0.908)
	// filter(NOT (price_eur < 1))
	// schema:
	//   fields: 3
	//     - auction: type=int64
	//     - price: type=int64, nullable
	//     - price_eur: type=float64, nullable
	// auction 1000: 227.00 EUR
	// auction 1003: 9080.00 EUR
}
