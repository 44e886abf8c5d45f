package windows

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/shardflow/shardflow/internal/cputime"
	"github.com/shardflow/shardflow/pipeline"
)

// sessionBenchAggs are the aggregates of the sessions job.
func sessionBenchAggs() []Agg {
	return []Agg{
		Count("events"),
		CountIf("page_views", eqPred{"event_type", "page_view"}),
		CountIf("add_to_cart", eqPred{"event_type", "add_to_cart"}),
		CountIf("purchases", eqPred{"event_type", "purchase"}),
		SumIf("revenue", "price", eqPred{"event_type", "purchase"}),
		First("landing_page", "page"),
		AnyIf("converted", eqPred{"event_type", "purchase"}),
	}
}

// BenchmarkSessionAggregate runs session windows per user_id (about 100k
// users, each on every shard) over the batches of BenchmarkTumblingAggregate.
// A user has an event about every 16 s of event time: with a 30 min gap no
// session closes during the run (assigning and merging rows only), with a
// 10 s gap sessions of a few events close all the time. One lap of event
// time (64 batches per shard) warms the state up before the timer starts.
func BenchmarkSessionAggregate(b *testing.B) {
	for _, bc := range []struct {
		name string
		gap  time.Duration
		aggs []Agg
	}{
		{"sessions_job_30m", 30 * time.Minute, sessionBenchAggs()},
		{"sessions_job_10s", 10 * time.Second, sessionBenchAggs()},
		{"count_30m", 30 * time.Minute, []Agg{Count("events")}},
	} {
		b.Run(bc.name, func(b *testing.B) { benchSession(b, bc.gap, bc.aggs) })
	}
}

func benchSession(b *testing.B, gap time.Duration, aggs []Agg) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(b, 0)
	batches := clickBatches(mem)
	defer func() {
		for _, r := range batches {
			r.Release()
		}
	}()
	st, err := Session(gap).Aggregate(aggs...).KeyedStage([]string{"user_id"}, "ts")
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
	op := o.(*SessionOperator)
	ctx := context.Background()
	span := int64(benchBatches * benchRows * benchStepUs / 1000)
	shards := make([]string, benchShards)
	for i := range shards {
		shards[i] = fmt.Sprintf("shard-%d", i)
	}
	var outRows int64
	emit := func(bt *pipeline.Batch) { outRows += int64(bt.Len()); bt.Release() }
	rows := 0
	step := func(i int) {
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
	// Warm up with one lap of event time, so that every user has its
	// sessions and the state its size: the steady state of a long run.
	warm := benchShards * benchBatches
	for i := range warm {
		step(i)
	}
	rows = 0
	b.ReportAllocs()
	var cpu0 time.Duration
	for i := warm; b.Loop(); i++ {
		if i == warm {
			cpu0 = cputime.Process()
		}
		step(i)
	}
	cpu := cputime.Process() - cpu0
	b.StopTimer()
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	if cpu > 0 {
		b.ReportMetric(float64(rows)/cpu.Seconds(), "rows/cpu-s")
	}
	if c := op.Counters(); c["late_rows"] != 0 {
		b.Fatalf("%d late rows", c["late_rows"])
	}
	if err := op.OnWatermark(ctx, pipeline.MaxTime, emit); err != nil {
		b.Fatal(err)
	}
	if outRows == 0 {
		b.Fatal("no output")
	}
}
