package windows

import (
	"context"
	"fmt"
	"github.com/shardflow/shardflow/internal/cputime"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/shardflow/shardflow/pipeline"
)

var clickSchema = arrow.NewSchema([]arrow.Field{
	{Name: "page", Type: arrow.BinaryTypes.String},
	{Name: "user_id", Type: arrow.BinaryTypes.String},
	{Name: "event_type", Type: arrow.BinaryTypes.String},
	{Name: "price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "ts", Type: arrow.FixedWidthTypes.Timestamp_ms},
}, nil)

const (
	benchRows    = 4096
	benchBatches = 64 // distinct batches, cycled
	benchShards  = 4
	benchStepUs  = 250 // event time per row and shard: 4096 rows ~ 1s
)

// clickBatches makes clickstream batches: ~50 pages, ~100k users, four event
// types, prices on purchases, event times rising 0.25 ms a row with jitter.
func clickBatches(mem memory.Allocator) []arrow.RecordBatch {
	rng := rand.New(rand.NewPCG(1, 2))
	events := []string{"page_view", "page_view", "page_view", "page_view", "page_view", "page_view", "click", "click", "add_to_cart", "purchase"}
	var out []arrow.RecordBatch
	b := array.NewRecordBuilder(mem, clickSchema)
	defer b.Release()
	for i := range benchBatches {
		for j := range benchRows {
			n := int64(i*benchRows + j)
			ev := events[rng.IntN(len(events))]
			b.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("/page/%d", rng.IntN(50)))
			b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("user-%08d", rng.IntN(100_000)))
			b.Field(2).(*array.StringBuilder).Append(ev)
			if ev == "purchase" {
				b.Field(3).(*array.Float64Builder).Append(float64(rng.IntN(10_000)) / 100)
			} else {
				b.Field(3).AppendNull()
			}
			b.Field(4).(*array.TimestampBuilder).Append(arrow.Timestamp(n*benchStepUs/1000 - rng.Int64N(500)))
		}
		out = append(out, b.NewRecordBatch())
	}
	return out
}

func clickstreamAggs() []Agg {
	return []Agg{
		Count("events"),
		CountIf("page_views", eqPred{"event_type", "page_view"}),
		CountIf("clicks", eqPred{"event_type", "click"}),
		CountIf("purchases", eqPred{"event_type", "purchase"}),
		SumIf("revenue", "price", eqPred{"event_type", "purchase"}),
		CountDistinct("unique_users", "user_id"),
	}
}

func BenchmarkTumblingAggregate(b *testing.B) {
	for _, bc := range aggregateCases {
		b.Run(bc.name, func(b *testing.B) { benchAggregate(b, Tumbling(time.Minute), bc.aggs) })
	}
	for _, bc := range []struct {
		name string
		aggs []Agg
	}{
		{"first_last", []Agg{Count("events"), First("first_price", "price"), Last("last_price", "price")}},
	} {
		b.Run(bc.name, func(b *testing.B) { benchAggregate(b, Tumbling(time.Minute), bc.aggs) })
	}
}

// aggregateCases are the aggregations that BenchmarkTumblingAggregate and
// BenchmarkSlidingAggregate both run.
var aggregateCases = []struct {
	name string
	aggs []Agg
}{
	{"clickstream", clickstreamAggs()},
	{"clickstream_no_distinct", clickstreamAggs()[:5]},
	{"count_sum", []Agg{Count("events"), Sum("revenue", "price")}},
}

// BenchmarkSlidingAggregate runs the aggregations of
// BenchmarkTumblingAggregate in sliding windows of one hour every minute:
// each row is in 60 windows.
func BenchmarkSlidingAggregate(b *testing.B) {
	for _, bc := range aggregateCases {
		b.Run(bc.name, func(b *testing.B) { benchAggregate(b, Sliding(time.Hour, time.Minute), bc.aggs) })
	}
}

func benchAggregate(b *testing.B, assigner Assigner, aggs []Agg) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(b, 0)
	batches := clickBatches(mem)
	defer func() {
		for _, r := range batches {
			r.Release()
		}
	}()
	st, err := Aggregate(assigner, aggs...).KeyedStage([]string{"page"}, "ts")
	if err != nil {
		b.Fatal(err)
	}
	_, newOp, err := st.Bind(clickSchema)
	if err != nil {
		b.Fatal(err)
	}
	o, err := newOp(pipeline.OperatorEnv{Mem: mem})
	if err != nil {
		b.Fatal(err)
	}
	op := o.(*Operator)
	ctx := context.Background()
	span := int64(benchBatches * benchRows * benchStepUs / 1000)
	shards := make([]string, benchShards)
	for i := range shards {
		shards[i] = fmt.Sprintf("shard-%d", i)
	}
	var outRows int64
	emit := func(bt *pipeline.Batch) { outRows += int64(bt.Len()); bt.Release() }
	rows := 0
	b.ReportAllocs()
	var cpu0 time.Duration
	for i := 0; b.Loop(); i++ {
		if i == 0 {
			cpu0 = cputime.Process()
		}
		k := i / benchShards // every shard reads the same slab of event time
		rec := batches[k%benchBatches]
		if i%benchShards == 0 && k%benchBatches == 0 && k > 0 {
			for _, r := range batches { // next lap of event time
				ts := values[int64](r.Column(4))
				for j := range ts {
					ts[j] += span
				}
			}
		}
		rec.Retain()
		if err := op.Process(ctx, &pipeline.Batch{Rec: rec, Shard: shards[i%benchShards]}, nil); err != nil {
			b.Fatal(err)
		}
		rows += benchRows
		if i%benchShards == benchShards-1 {
			wm := int64(values[int64](rec.Column(4))[0]) - 2000
			if err := op.OnWatermark(ctx, wm, emit); err != nil {
				b.Fatal(err)
			}
		}
	}
	cpu := cputime.Process() - cpu0
	b.StopTimer()
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	if cpu > 0 {
		// Throughput per CPU-second of the whole process (GC included),
		// steadier than wall time on a busy machine.
		b.ReportMetric(float64(rows)/cpu.Seconds(), "rows/cpu-s")
	}
	if err := op.OnWatermark(ctx, pipeline.MaxTime, emit); err != nil {
		b.Fatal(err)
	}
	if outRows == 0 && rows > 10*benchRows*benchShards*benchBatches {
		b.Fatal("no output")
	}
}
