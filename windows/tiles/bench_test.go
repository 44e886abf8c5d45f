package tiles

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/pipeline"
)

// BenchmarkTiles runs the operator of the features job's kind of spec (an
// hour and a day of one-minute tiles) over 26 hours of events of 200 users,
// each with an event every 30 s, in batches of 1,000 with a watermark and a
// checkpoint's online rows after each: a user has up to 1,440 tiles in its
// day window.
func BenchmarkTiles(b *testing.B) {
	const users, every = 200, 30_000
	const span = 26 * 3_600_000
	mem := memory.NewGoAllocator()
	base := int64(1_767_225_600_000)
	var batches []*pipeline.Batch
	var wms []int64 // each batch's latest event time, less 10 s
	var evs []event
	for t := int64(0); t < span; t += every / users {
		u := (t / (every / users)) % users
		e := event{user: fmt.Sprintf("u%03d", u), typ: "page_view", page: "/", ts: base + t}
		if u%5 == 0 {
			e.typ, e.price = "purchase", 2.5
		}
		evs = append(evs, e)
		if len(evs) == 1000 {
			batches = append(batches, batchOf(mem, "s", evs))
			wms = append(wms, evs[len(evs)-1].ts-10_000)
			evs = nil
		}
	}
	spec := Every(time.Minute).Features(
		Count("events_1h", time.Hour), CountIf("purchases_1h", time.Hour, testSpec().feats[1].pred),
		SumIf("revenue_1h", "price", time.Hour, testSpec().feats[2].pred), Count("events_24h", 24*time.Hour),
		Last("last_page", "page"), LastTime("last_event_ts")).Online("online")
	st, err := spec.KeyedStage([]string{"user_id"}, "ts")
	if err != nil {
		b.Fatal(err)
	}
	_, mk, err := st.Bind(inSchema)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	rows := 0
	emit := func(out *pipeline.Batch) { rows += out.Len(); out.Release() }
	b.ResetTimer()
	for range b.N {
		op, err := mk(pipeline.OperatorEnv{Mem: mem})
		if err != nil {
			b.Fatal(err)
		}
		o := op.(*Operator)
		for i, bt := range batches {
			bt.Rec.Retain()
			if err := o.Process(ctx, &pipeline.Batch{Rec: bt.Rec, Shard: bt.Shard}, emit); err != nil {
				b.Fatal(err)
			}
			if err := o.PrepareSnapshot(ctx, emit); err != nil {
				b.Fatal(err)
			}
			if err := o.OnWatermark(ctx, wms[i], emit); err != nil {
				b.Fatal(err)
			}
		}
		if err := o.OnWatermark(ctx, math.MaxInt64, emit); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(batches)*1000*b.N)/b.Elapsed().Seconds(), "rows/s")
}
