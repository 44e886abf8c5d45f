package kinesis

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	consumer "github.com/harlow/kinesis-consumer"
)

// BenchmarkKinesaliteReadHarlow reads the same pre-filled stream as
// BenchmarkKinesaliteRead with github.com/harlow/kinesis-consumer v0.5.0
// (Scan over every shard, a no-op per-record callback), for the ratio.
func BenchmarkKinesaliteReadHarlow(b *testing.B) {
	srv, stream, total, size := benchStream(b)
	b.ResetTimer()
	for b.Loop() {
		c, err := consumer.New(stream, consumer.WithClient(srv.Client), consumer.WithShardIteratorType("TRIM_HORIZON"),
			consumer.WithScanInterval(MinCallInterval), consumer.WithMaxRecords(MaxRecordsPerCall))
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(b.Context(), time.Minute)
		var n atomic.Int64
		err = c.Scan(ctx, func(r *consumer.Record) error {
			if n.Add(1) == total {
				cancel()
			}
			return nil
		})
		cancel()
		if err != nil && ctx.Err() == nil {
			b.Fatal(err)
		}
		if got := n.Load(); got != total {
			b.Fatalf("read %d records, want %d", got, total)
		}
	}
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(total*int64(b.N))/secs, "records/s")
	b.ReportMetric(float64(total*size*int64(b.N))/secs/1e6, "MB/s")
}
