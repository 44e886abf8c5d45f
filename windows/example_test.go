package windows_test

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/windows"
)

// A one-minute tumbling window by page: the DSL calls KeyedStage with the
// job's key and event-time columns, binds the stage to the decoded schema and
// runs the operator where the shards meet.
func Example() {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "page", Type: arrow.BinaryTypes.String},
		{Name: "user_id", Type: arrow.BinaryTypes.String},
		{Name: "price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "ts", Type: arrow.FixedWidthTypes.Timestamp_ms},
	}, nil)
	spec := windows.Tumbling(time.Minute).Aggregate(
		windows.Count("events"),
		windows.Sum("revenue", "price"),
		windows.CountDistinct("unique_users", "user_id"))
	stage, err := spec.KeyedStage([]string{"page"}, "ts")
	if err != nil {
		panic(err)
	}
	out, newOp, err := stage.Bind(schema)
	if err != nil {
		panic(err)
	}
	op, err := newOp(pipeline.OperatorEnv{Mem: memory.DefaultAllocator})
	if err != nil {
		panic(err)
	}
	win := op.(pipeline.KeyedOperator)
	fmt.Println(stage.Name())
	fmt.Println(out.Field(0).Name, out.Field(1).Name, out.Field(2).Name, out.Field(3).Name, out.Field(4).Name, out.Field(5).Name)

	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	add := func(page, user string, price float64, ts time.Time) {
		b.Field(0).(*array.StringBuilder).Append(page)
		b.Field(1).(*array.StringBuilder).Append(user)
		if price == 0 {
			b.Field(2).AppendNull()
		} else {
			b.Field(2).(*array.Float64Builder).Append(price)
		}
		b.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(pipeline.Millis(ts)))
	}
	t0 := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	add("/home", "u1", 0, t0.Add(5*time.Second))
	add("/cart", "u1", 19.5, t0.Add(20*time.Second))
	add("/home", "u2", 0, t0.Add(40*time.Second))
	add("/home", "u1", 0, t0.Add(50*time.Second))
	add("/home", "u3", 0, t0.Add(70*time.Second)) // next window
	ctx := context.Background()
	if err := win.Process(ctx, &pipeline.Batch{Rec: b.NewRecordBatch(), Shard: "shard-0"}, nil); err != nil {
		panic(err)
	}
	// The watermark passes 12:01: the first window fires.
	err = win.OnWatermark(ctx, pipeline.Millis(t0.Add(time.Minute)), func(b *pipeline.Batch) {
		defer b.Release()
		for i := range int(b.Rec.NumRows()) {
			start := b.Rec.Column(0).(*array.Timestamp).Value(i).ToTime(arrow.Millisecond)
			fmt.Println(start.Format("15:04"), b.Rec.Column(2).ValueStr(i), b.Rec.Column(3).ValueStr(i),
				b.Rec.Column(4).ValueStr(i), b.Rec.Column(5).ValueStr(i))
		}
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(win.(pipeline.CounterReporter).Counters()["open_windows"], "window still open")
	// Output:
	// tumbling(1m) on ts by page: count(events), sum(revenue: price), count_distinct(unique_users: user_id)
	// window_start window_end page events revenue unique_users
	// 12:00 /cart 1 19.5 1
	// 12:00 /home 3 0 2
	// 1 window still open
}
