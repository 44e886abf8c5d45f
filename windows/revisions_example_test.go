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

// One-minute windows that allow two minutes of lateness, with a revision
// every minute: a row late by less than that corrects its window, which
// comes again for the keys it changed with a higher revision; a later row
// goes to the late side (LateRows).
func ExampleSpec_AllowedLateness() {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "page", Type: arrow.BinaryTypes.String},
		{Name: "ts", Type: arrow.FixedWidthTypes.Timestamp_ms},
	}, nil)
	spec := windows.Tumbling(time.Minute).Aggregate(windows.Count("events")).
		AllowedLateness(2 * time.Minute).RevisionEvery(time.Minute).LateRows()
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
	fmt.Println(out.Field(out.NumFields() - 1).Name)

	t0 := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()
	show := func(b *pipeline.Batch) {
		defer b.Release()
		for i := range int(b.Rec.NumRows()) {
			if b.Side == windows.LateSide {
				ts := b.Rec.Column(1).(*array.Timestamp).Value(i).ToTime(arrow.Millisecond)
				fmt.Println("late:", b.Rec.Column(0).ValueStr(i), ts.Format("15:04:05"))
				continue
			}
			start := b.Rec.Column(0).(*array.Timestamp).Value(i).ToTime(arrow.Millisecond)
			fmt.Println(start.Format("15:04"), b.Rec.Column(2).ValueStr(i), b.Rec.Column(3).ValueStr(i),
				"revision", b.Rec.Column(4).ValueStr(i))
		}
	}
	clock := pipeline.MinTime // the shard's highest event time so far
	// send processes the rows of one batch of shard-0, then moves the
	// job's watermark to the shard's clock.
	send := func(rows ...any) {
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		defer b.Release()
		for i := 0; i < len(rows); i += 2 {
			ts := pipeline.Millis(t0.Add(rows[i+1].(time.Duration)))
			b.Field(0).(*array.StringBuilder).Append(rows[i].(string))
			b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(ts))
		}
		before := clock
		for i := 1; i < len(rows); i += 2 {
			clock = max(clock, pipeline.Millis(t0.Add(rows[i].(time.Duration))))
		}
		if err := win.Process(ctx, &pipeline.Batch{Rec: b.NewRecordBatch(), Shard: "shard-0", Before: before}, show); err != nil {
			panic(err)
		}
		if err := win.OnWatermark(ctx, clock, show); err != nil {
			panic(err)
		}
	}
	send("/home", 10*time.Second, "/home", 30*time.Second, "/cart", 65*time.Second)
	// The shard's clock is 5 s past the end of 12:00 when 12:00:50 comes:
	// a correction, revision 1, emitted at 12:02.
	send("/home", 50*time.Second, "/home", 150*time.Second)
	// 1 m 30 s past: revision 2, at 12:03.
	send("/cart", 40*time.Second, "/home", 210*time.Second)
	// 2 m 30 s past, more than the allowed lateness: late.
	send("/home", 45*time.Second)
	if err := win.OnWatermark(ctx, pipeline.MaxTime, show); err != nil {
		panic(err)
	}
	// Output:
	// revision
	// 12:00 /home 2 revision 0
	// 12:00 /home 3 revision 1
	// 12:01 /cart 1 revision 0
	// 12:00 /cart 1 revision 2
	// 12:02 /home 1 revision 0
	// late: /home 12:00:45
	// 12:03 /home 1 revision 0
}
