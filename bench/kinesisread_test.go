package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	consumer "github.com/harlow/kinesis-consumer"
	"golang.org/x/sync/errgroup"

	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/pipeline"
	kinsink "github.com/shardflow/shardflow/sinks/kinesis"
	kinsrc "github.com/shardflow/shardflow/sources/kinesis"
)

// Reader reads every record of a pre-filled stream once, from TRIM_HORIZON
// to the end, and returns how many it read. endpoint is the Kinesis API's
// base URL (dummy credentials x/x, us-east-1).
type Reader func(ctx context.Context, endpoint, stream string) (records int, err error)

// readers are the contenders, measured side by side in one run. want is the
// number of records the stream holds.
func readers(want int) []namedReader {
	return []namedReader{
		{"harlow/kinesis-consumer v0.5.0", harlowReader(want)},
		// ---- HOOK: the shardflow Kinesis source. ----
		// Replace shardflowReader to measure another configuration of
		// sources/kinesis; set it to nil to measure harlow alone.
		{"shardflow sources/kinesis", shardflowReader},
	}
}

type namedReader struct {
	name string
	read Reader
}

// harlowReader scans the stream with harlow/kinesis-consumer's defaults
// (250ms scan interval, 10,000 records per GetRecords, no store) from
// TRIM_HORIZON, and stops once it has seen want records: a Scan never ends
// by itself.
func harlowReader(want int) Reader {
	return func(ctx context.Context, endpoint, stream string) (int, error) {
		client := testenv.KinesisClient(endpoint, nil)
		c, err := consumer.New(stream, consumer.WithClient(client),
			consumer.WithShardIteratorType(string(types.ShardIteratorTypeTrimHorizon)))
		if err != nil {
			return 0, err
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var n atomic.Int64
		var bytes atomic.Int64
		err = c.Scan(ctx, func(r *consumer.Record) error {
			bytes.Add(int64(len(r.Data)))
			if n.Add(1) == int64(want) {
				cancel()
			}
			return nil
		})
		if int(n.Load()) >= want && (err == nil || errors.Is(err, context.Canceled)) {
			err = nil
		}
		return int(n.Load()), err
	}
}

// shardflowReader reads the stream with sources/kinesis, bounded at the
// records present when it starts (StopAtNow), one goroutine per shard as the
// runtime runs them, releasing each Arrow batch after counting its rows.
func shardflowReader(ctx context.Context, endpoint, stream string) (int, error) {
	src, err := kinsrc.New(ctx, kinsrc.Config{
		Stream: stream, Client: testenv.KinesisClient(endpoint, nil), Start: kinsrc.StartTrimHorizon,
		StopAt: kinsrc.StopAtNow(), Mem: memory.NewGoAllocator(),
	})
	if err != nil {
		return 0, err
	}
	shards, err := src.Shards(ctx)
	if err != nil {
		return 0, err
	}
	var n atomic.Int64
	g, ctx := errgroup.WithContext(ctx)
	for _, sh := range shards {
		g.Go(func() error {
			r, err := src.OpenShard(ctx, sh, pipeline.Position{})
			if err != nil {
				return err
			}
			defer r.Close()
			for {
				b, err := r.Read(ctx)
				if pipeline.ReadEnded(err) {
					return nil
				}
				if err != nil {
					return err
				}
				n.Add(int64(b.Len()))
				b.Release()
			}
		})
	}
	err = g.Wait()
	return int(n.Load()), err
}

// benchEnv reads an integer knob from the environment.
func benchEnv(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// prefill creates a stream of shards shards and puts records clickstream-like
// JSON records of about size bytes under random user ids; it returns the
// data bytes written.
func prefill(tb testing.TB, client *kinesis.Client, stream string, shards, records, size int) int64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if _, err := client.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(stream), ShardCount: aws.Int32(int32(shards))}); err != nil {
		tb.Fatalf("create stream: %v", err)
	}
	w := kinesis.NewStreamExistsWaiter(client, func(o *kinesis.StreamExistsWaiterOptions) {
		o.MinDelay = 20 * time.Millisecond
		o.MaxDelay = 200 * time.Millisecond
	})
	if err := w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(stream)}, time.Minute); err != nil {
		tb.Fatalf("stream not active: %v", err)
	}
	p, err := kinsink.NewProducer(kinsink.ProducerConfig{Stream: stream, Client: client, Unordered: true})
	if err != nil {
		tb.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pages := []string{"/home", "/search", "/product/42", "/cart", "/checkout"}
	var buf []byte
	for i := range records {
		user := fmt.Sprintf("user-%06d", rng.IntN(100_000))
		buf = fmt.Appendf(buf[:0], `{"event_id":%d,"user_id":%q,"page":%q,"event_type":"page_view","ts":%d,"pad":"`,
			i, user, pages[rng.IntN(len(pages))], 1767225600000+int64(i))
		for len(buf) < size-2 {
			buf = append(buf, 'x')
		}
		buf = append(buf, '"', '}')
		if err := p.Put(ctx, user, buf); err != nil {
			tb.Fatalf("prefill: %v", err)
		}
	}
	if err := p.Flush(ctx); err != nil {
		tb.Fatalf("prefill: %v", err)
	}
	return p.Stats().Bytes
}

// result is one reader's measurements over the rounds.
type result struct {
	name  string
	rates []float64 // records/s per round
}

func (r result) median() float64 {
	s := slices.Clone(r.rates)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// compare reads the stream rounds times with every reader, alternating which
// goes first, and checks that each read every record.
func compare(tb testing.TB, endpoint, stream string, want, rounds int) []result {
	tb.Helper()
	rs := readers(want)
	results := make([]result, len(rs))
	for i, r := range rs {
		results[i].name = r.name
	}
	for round := range rounds {
		for k := range rs {
			i := (k + round) % len(rs)
			if rs[i].read == nil {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			start := time.Now()
			n, err := rs[i].read(ctx, endpoint, stream)
			elapsed := time.Since(start)
			cancel()
			if err != nil || n != want {
				tb.Fatalf("%s round %d: read %d of %d records: %v", rs[i].name, round, n, want, err)
			}
			results[i].rates = append(results[i].rates, float64(n)/elapsed.Seconds())
		}
	}
	return results
}

// BenchmarkKinesisRead pre-fills a multi-shard stream on kinesalite and
// reads it with harlow/kinesis-consumer and with shardflow's source, side by
// side. Run it once (-benchtime 1x); the rounds are inside. See README.md.
func BenchmarkKinesisRead(b *testing.B) {
	records := benchEnv("SHARDFLOW_BENCH_RECORDS", 100_000)
	shards := benchEnv("SHARDFLOW_BENCH_SHARDS", 4)
	size := benchEnv("SHARDFLOW_BENCH_RECORD_BYTES", 200)
	rounds := benchEnv("SHARDFLOW_BENCH_ROUNDS", 5)
	srv := testenv.Kinesalite(b)
	start := time.Now()
	bytes := prefill(b, srv.Client, "bench", shards, records, size)
	b.Logf("pre-filled %d records (%.1f MB) in %d shards in %v", records, float64(bytes)/1e6, shards, time.Since(start).Round(time.Millisecond))
	mbPerRecord := float64(bytes) / float64(records) / 1e6

	b.ResetTimer()
	var results []result
	for range b.N {
		results = compare(b, srv.Endpoint(), "bench", records, rounds)
	}
	b.StopTimer()
	var base float64
	for i, r := range results {
		if len(r.rates) == 0 {
			continue
		}
		med := r.median()
		if i == 0 {
			base = med
		}
		b.Logf("%-32s median %9.0f records/s %7.2f MB/s  (%d rounds: %.0f)", r.name, med, med*mbPerRecord, len(r.rates), r.rates)
		tag := []string{"harlow", "shardflow"}[min(i, 1)]
		b.ReportMetric(med, tag+"-records/s")
		b.ReportMetric(med*mbPerRecord, tag+"-MB/s")
		if i > 0 && base > 0 {
			b.Logf("ratio shardflow/harlow: %.2f", med/base)
			b.ReportMetric(med/base, "ratio")
		}
	}
}

// TestKinesisReaders checks the harness on a small stream: every reader
// reads every record.
func TestKinesisReaders(t *testing.T) {
	srv := testenv.Kinesalite(t)
	prefill(t, srv.Client, "small", 3, 3000, 100)
	for _, r := range compare(t, srv.Endpoint(), "small", 3000, 1) {
		t.Logf("%s: %.0f records/s", r.name, r.median())
	}
}
