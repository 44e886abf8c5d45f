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

// A shard task's fused operators: decode JSON records into a declared schema,
// then keep purchases. Records that cannot be decoded come out as dead
// letters with their position and the reason.
func ExampleJSON() {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "ts", Type: arrow.FixedWidthTypes.Timestamp_ms},
		{Name: "event_type", Type: arrow.BinaryTypes.String},
		{Name: "price", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	stages := []pipeline.Stage{
		operators.JSON(schema, operators.JSONOptions{Required: []string{"ts"}}),
		operators.Filter(expr.Eq("event_type", "purchase")),
	}

	// Bind the stages once, as the job builder does, then create the
	// operators of one shard.
	in := pipeline.RawSchema
	env := pipeline.OperatorEnv{Mem: memory.DefaultAllocator, Source: "generator", Shard: "shard-0"}
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

	raw := pipeline.NewRawBuilder(env.Mem)
	defer raw.Release()
	for i, rec := range []string{
		`{"ts":"2024-05-01T12:00:00.250Z","event_type":"page_view"}`,
		`{"ts":"2024-05-01T12:00:01Z","event_type":"purchase","price":19.99}`,
		`{"event_type":"purchase","price":5}`,
	} {
		raw.Append([]byte(rec), "user-1", pipeline.OffsetPosition(int64(i+1)), 0)
	}

	ctx := context.Background()
	ops[0].Process(ctx, raw.NewBatch("shard-0"), func(b *pipeline.Batch) {
		if b.Side == pipeline.DeadLetterSide {
			pos, reason := b.Rec.Column(2).(*array.String), b.Rec.Column(3).(*array.String)
			fmt.Printf("dead letter at %s: %s\n", pos.Value(0), reason.Value(0))
			b.Release()
			return
		}
		ops[1].Process(ctx, b, func(b *pipeline.Batch) {
			defer b.Release()
			ts := b.Rec.Column(0).(*array.Timestamp)
			price := b.Rec.Column(2).(*array.Float64)
			for i := range b.Len() {
				fmt.Println(ts.Value(i).ToTime(arrow.Millisecond).Format("15:04:05.000"), price.Value(i))
			}
		})
	})
	// Output:
	// json(ts:timestamp[ms, tz=UTC],event_type:utf8,price:float64; required=ts)
	// filter(event_type = "purchase")
	// 12:00:01.000 19.99
	// dead letter at 3: json: required field "ts" is missing
}
