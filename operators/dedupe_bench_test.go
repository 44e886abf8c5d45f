package operators

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/expr"
	"github.com/shardflow/shardflow/pipeline"
)

// retriedStream decodes batches of clickstream events (37ms of event time
// apart) in which one row in a hundred repeats an event of the 50 rows
// before it, as a producer's retry does.
func retriedStream(b *testing.B, mem memory.Allocator, batches int) []*pipeline.Batch {
	events := clickEvents(batches * benchBatch)
	r := rand.New(rand.NewPCG(5, 6))
	for i := 50; i < len(events); i++ {
		if r.IntN(100) == 0 {
			events[i] = events[i-1-r.IntN(50)]
		}
	}
	_, dec := newOp(b, mem, JSON(clickSchema, JSONOptions{Required: []string{"ts"}}), pipeline.RawSchema)
	out := make([]*pipeline.Batch, 0, batches)
	for i := range batches {
		main, _ := collect(b, dec, rawBatch(mem, "s", events[i*benchBatch:(i+1)*benchBatch]))
		out = append(out, main...)
	}
	return out
}

// BenchmarkDedupe measures Dedupe over a stream of 200 decoded batches of
// 1000 clickstream rows (two hours of event time, 1% retried rows) with a
// ten-minute ttl, so the shard holds about 16,000 keys once warm; each
// operation runs the whole stream through a new instance. Filter (purchases,
// 10% kept) runs over the same stream for comparison.
func BenchmarkDedupe(b *testing.B) {
	mem := memory.NewGoAllocator()
	stream := retriedStream(b, mem, 200)
	defer releaseAll(stream)
	rows := 0
	for _, s := range stream {
		rows += s.Len()
	}
	for _, tc := range []struct {
		name  string
		stage pipeline.Stage
	}{
		{"dedupe", Dedupe("event_id", "ts", 10*time.Minute)},
		{"filter", Filter(expr.Eq("event_type", "purchase"))},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			kept := 0
			emit := func(out *pipeline.Batch) { kept += out.Len(); out.Release() }
			m := meter(b, rows)
			for b.Loop() {
				_, op := newOp(b, mem, tc.stage, clickSchema)
				for _, s := range stream {
					s.Rec.Retain()
					if err := op.Process(ctx, s.WithRecord(s.Rec), emit); err != nil {
						b.Fatal(err)
					}
				}
			}
			m.report()
			b.ReportMetric(float64(kept)/float64(b.N*rows), "kept/row")
		})
	}
}
