package kinesis

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardflow/shardflow/internal/testenv"
)

// BenchmarkKinesaliteRead reads a pre-filled 4-shard kinesalite stream
// (40,000 records of 200 bytes) from trim_horizon until every record has
// arrived, one goroutine per shard as the runtime does, into Arrow batches,
// and reports records/s and MB/s.
func BenchmarkKinesaliteRead(b *testing.B) {
	srv, stream, total, size := benchStream(b)
	b.ResetTimer()
	for b.Loop() {
		src, err := New(b.Context(), Config{Stream: stream, Client: srv.Client, PollInterval: MinCallInterval})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(b.Context(), time.Minute)
		job := &readJob{onRows: func(n int) {
			if int64(n) == total {
				cancel() // as the harlow benchmark does
			}
		}}
		job.run(ctx, b, src)
		cancel()
		if n := job.count(); int64(n) != total {
			b.Fatalf("read %d records, want %d", n, total)
		}
	}
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(total*int64(b.N))/secs, "records/s")
	b.ReportMetric(float64(total*size*int64(b.N))/secs/1e6, "MB/s")
}

// benchStream starts kinesalite with a 4-shard stream of 40,000 records of
// 200 bytes.
func benchStream(b *testing.B) (srv *testenv.KinesisServer, stream string, total, size int64) {
	srv = testenv.Kinesalite(b)
	stream, total, size = "bench", 40000, 200
	testenv.CreateStream(b, srv.Client, stream, 4)
	payload := make([]byte, size)
	for i := 0; i < int(total); i += 500 {
		entries := make([]types.PutRecordsRequestEntry, 500)
		for j := range entries {
			copy(payload, fmt.Sprintf("%08d", i+j))
			entries[j] = types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprintf("k%d", (i+j)%1000)), Data: append([]byte(nil), payload...)}
		}
		if err := putRound(b.Context(), srv.Client, stream, entries); err != nil {
			b.Fatal(err)
		}
	}
	return srv, stream, total, size
}
