package kinesis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/shardflow/shardflow/internal/kpl"
)

func newTestProducer(t *testing.T, f *fakeKinesis, cfg ProducerConfig, opts ...ProducerOption) (*Producer, *recordedSleep) {
	t.Helper()
	cfg.Client = f
	if cfg.Stream == "" {
		cfg.Stream = "test"
	}
	s := &recordedSleep{}
	p, err := NewProducer(cfg, append([]ProducerOption{WithSleep(s.sleep)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return p, s
}

// putAll puts n records over keys partition keys, data "key/i", and flushes.
func putAll(t *testing.T, p *Producer, n, keys int, dataLen int) []userRecord {
	t.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 8))
	var want []userRecord
	for i := range n {
		key := fmt.Sprintf("user-%d", rng.IntN(keys))
		data := fmt.Sprintf("%s/%d/", key, i)
		data += strings.Repeat("x", max(0, dataLen-len(data)))
		want = append(want, userRecord{key: key, data: data})
		if err := p.Put(ctx, key, []byte(data)); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	if p.Buffered() != 0 {
		t.Fatalf("%d records buffered after Flush", p.Buffered())
	}
	return want
}

func TestProducerPartialFailures(t *testing.T) {
	for _, tc := range []struct {
		name      string
		aggregate bool
		unordered bool
		keys      int
		failRate  float64
		maxAgg    int
	}{
		{"plain ordered", false, false, 50, 0.2, 0},
		{"plain unordered", false, true, 50, 0.2, 0},
		{"plain ordered few keys", false, false, 3, 0.3, 0},
		{"aggregated ordered", true, false, 200, 0.3, 4096},
		{"aggregated unordered", true, true, 200, 0.3, 4096},
		{"aggregated no failures", true, false, 1000, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(4, 1)
			f.failRate = tc.failRate
			p, sleeps := newTestProducer(t, f, ProducerConfig{Aggregate: tc.aggregate, Unordered: tc.unordered, MaxAggregateBytes: tc.maxAgg, MaxAttempts: 30})
			want := putAll(t, p, 5000, tc.keys, 40)
			got := f.readBack(t)
			shardOf := f.shardOf
			checkRecords(t, want, got, !tc.unordered, shardOf)

			st := p.Stats()
			if st.Records != int64(len(want)) {
				t.Errorf("Stats.Records = %d, want %d", st.Records, len(want))
			}
			if st.Retries != int64(f.failed) {
				t.Errorf("Stats.Retries = %d, fake failed %d records", st.Retries, f.failed)
			}
			if st.Calls != int64(f.calls) {
				t.Errorf("Stats.Calls = %d, fake saw %d", st.Calls, f.calls)
			}
			if tc.failRate > 0 && (f.failed == 0 || len(sleeps.pauses) == 0 || st.Throttles == 0) {
				t.Errorf("no failures injected or no backoff: failed %d, pauses %d, throttles %d", f.failed, len(sleeps.pauses), st.Throttles)
			}
			if tc.failRate == 0 && (len(sleeps.pauses) != 0 || st.Retries != 0) {
				t.Errorf("backoff without failures: %v", sleeps.pauses)
			}
			if tc.aggregate && st.KinesisRecords >= st.Records/10 {
				t.Errorf("aggregation put %d Kinesis records for %d user records", st.KinesisRecords, st.Records)
			}
			t.Logf("calls %d, Kinesis records %d, retries %d, throttles %d", st.Calls, st.KinesisRecords, st.Retries, st.Throttles)
		})
	}
}

// TestProducerOrderedOneKey shows the cost of order without aggregation: one
// record of a key per call.
func TestProducerOrderedOneKey(t *testing.T) {
	f := newFake(1, 2)
	f.failRate = 0.3
	p, _ := newTestProducer(t, f, ProducerConfig{MaxAttempts: 30})
	want := putAll(t, p, 200, 1, 10)
	checkRecords(t, want, f.readBack(t), true, nil)
	if f.maxCallRecs != 1 {
		t.Fatalf("a call carried %d records of one key", f.maxCallRecs)
	}
}

func TestProducerCallLimits(t *testing.T) {
	for _, tc := range []struct {
		name      string
		n, size   int
		wantRecs  int
		wantBytes int
	}{
		{"records", 2000, 20, MaxCallRecords, 0},
		{"bytes", 120, 200_000, 0, MaxCallBytes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(2, 3)
			p, _ := newTestProducer(t, f, ProducerConfig{Unordered: true})
			want := putAll(t, p, tc.n, 100, tc.size)
			checkRecords(t, want, f.readBack(t), false, f.shardOf)
			if tc.wantRecs > 0 && f.maxCallRecs != tc.wantRecs {
				t.Errorf("largest call %d records, want %d", f.maxCallRecs, tc.wantRecs)
			}
			if tc.wantBytes > 0 && (f.maxCallBytes > tc.wantBytes || f.maxCallBytes < tc.wantBytes-tc.size-20) {
				t.Errorf("largest call %d bytes, want just under %d", f.maxCallBytes, tc.wantBytes)
			}
		})
	}
}

func TestProducerGivesUp(t *testing.T) {
	f := newFake(1, 4)
	f.failKeys = map[string]bool{"bad": true}
	p, sleeps := newTestProducer(t, f, ProducerConfig{MaxAttempts: 4, MinBackoff: 10 * time.Millisecond, MaxBackoff: 25 * time.Millisecond})
	ctx := context.Background()
	for _, k := range []string{"good", "bad", "other"} {
		if err := p.Put(ctx, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	err := p.Flush(ctx)
	var re *RecordError
	if !errors.Is(err, ErrGaveUp) || !errors.As(err, &re) {
		t.Fatalf("Flush = %v, want a RecordError", err)
	}
	if re.PartitionKey != "bad" || re.Attempts != 4 || re.Code == "" {
		t.Fatalf("RecordError %+v", re)
	}
	if len(sleeps.pauses) != 3 {
		t.Fatalf("%d pauses for 4 attempts: %v", len(sleeps.pauses), sleeps.pauses)
	}
	for i, d := range sleeps.pauses {
		lo := min(25*time.Millisecond, 10*time.Millisecond<<i)
		if d < lo/2 || d > lo {
			t.Errorf("pause %d = %v, want in [%v, %v]", i, d, lo/2, lo)
		}
	}
	if err := p.Flush(ctx); err != nil || p.Buffered() != 0 {
		t.Fatalf("second Flush = %v with %d buffered", err, p.Buffered())
	}
	got := f.readBack(t)
	checkRecords(t, []userRecord{{key: "good", data: "good"}, {key: "other", data: "other"}}, got, true, nil)
}

func TestProducerCallErrors(t *testing.T) {
	throttle := &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}
	internal := &smithy.GenericAPIError{Code: "InternalFailure", Message: "oops"}
	notFound := &types.ResourceNotFoundException{Message: aws.String("no stream")}
	for _, tc := range []struct {
		name          string
		errs          []error
		wantErr       error
		wantPauses    int
		wantThrottles int64
	}{
		{"throttled twice", []error{throttle, throttle}, nil, 2, 2},
		{"internal then ok", []error{internal}, nil, 1, 0},
		{"deadline of one call", []error{context.DeadlineExceeded}, nil, 1, 0},
		{"missing stream", []error{notFound}, notFound, 0, 0},
		{"gives up", []error{throttle, throttle, throttle}, ErrGaveUp, 2, 3},
		{"unknown error", []error{errInjected}, errInjected, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(1, 5)
			f.callErrs = tc.errs
			p, sleeps := newTestProducer(t, f, ProducerConfig{MaxAttempts: 3})
			if err := p.Put(context.Background(), "k", []byte("v")); err != nil {
				t.Fatal(err)
			}
			err := p.Flush(context.Background())
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Flush = %v, want %v", err, tc.wantErr)
			}
			if len(sleeps.pauses) != tc.wantPauses || p.Stats().Throttles != tc.wantThrottles {
				t.Fatalf("pauses %v, throttles %d; want %d pauses, %d throttles", sleeps.pauses, p.Stats().Throttles, tc.wantPauses, tc.wantThrottles)
			}
			if tc.wantErr == nil {
				checkRecords(t, []userRecord{{key: "k", data: "v"}}, f.readBack(t), true, nil)
			}
		})
	}
}

func TestProducerCanceled(t *testing.T) {
	f := newFake(1, 6)
	p, _ := newTestProducer(t, f, ProducerConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	if err := p.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := p.Flush(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Flush = %v, want context.Canceled", err)
	}
	if p.Buffered() != 1 {
		t.Fatalf("Buffered = %d after a canceled flush, want 1", p.Buffered())
	}
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, []userRecord{{key: "k", data: "v"}}, f.readBack(t), true, nil)
}

func TestProducerRejects(t *testing.T) {
	f := newFake(1, 7)
	p, _ := newTestProducer(t, f, ProducerConfig{})
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		key  string
		size int
		want error
	}{
		{"empty key", "", 1, ErrPartitionKey},
		{"long key", strings.Repeat("é", 257), 1, ErrPartitionKey},
		{"too large", "k", MaxRecordBytes, ErrRecordTooLarge},
	} {
		if err := p.Put(ctx, tc.key, make([]byte, tc.size)); !errors.Is(err, tc.want) {
			t.Errorf("%s: Put = %v, want %v", tc.name, err, tc.want)
		}
	}
	if err := p.Put(ctx, strings.Repeat("é", 256), make([]byte, MaxRecordBytes-512)); err != nil {
		t.Errorf("Put at the limits: %v", err)
	}
	if p.Buffered() != 1 {
		t.Errorf("Buffered = %d, want 1", p.Buffered())
	}
}

// TestProducerAggregateTooLarge: a record too big for an aggregate but within
// the record limit goes out plain, after what its shard had buffered.
func TestProducerAggregateTooLarge(t *testing.T) {
	f := newFake(2, 8)
	p, _ := newTestProducer(t, f, ProducerConfig{Aggregate: true, MaxAggregateBytes: 2048})
	ctx := context.Background()
	want := []userRecord{{key: "a", data: "small-1"}, {key: "a", data: strings.Repeat("B", 5000)}, {key: "a", data: "small-2"}}
	for _, r := range want {
		if err := p.Put(ctx, r.key, []byte(r.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, want, f.readBack(t), true, f.shardOf)
	f.mu.Lock()
	defer f.mu.Unlock()
	log := f.log[f.shardOf("a")]
	if len(log) != 3 || kpl.IsAggregated(log[1].data) || !kpl.IsAggregated(log[0].data) {
		t.Fatalf("shard log has %d records; want aggregate, plain, aggregate", len(log))
	}
}

// TestProducerReshard: after the stream is split behind the producer's back,
// Kinesis reports aggregates in unexpected shards; the producer lists the
// shards again and later aggregates land where their keys map.
func TestProducerReshard(t *testing.T) {
	f := newFake(2, 9)
	p, _ := newTestProducer(t, f, ProducerConfig{Aggregate: true, MaxAggregateBytes: 1024})
	ctx := context.Background()
	put := func(from, n int) []userRecord {
		var want []userRecord
		for i := from; i < from+n; i++ {
			r := userRecord{key: fmt.Sprintf("k%d", i%40), data: fmt.Sprintf("r%d", i)}
			want = append(want, r)
			if err := p.Put(ctx, r.key, []byte(r.data)); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		return want
	}
	put(0, 500)
	f.setShards(5, 100) // the stream now has 5 other shards
	f.mu.Lock()
	clear(f.log)
	f.mu.Unlock()
	put(500, 500) // lands by the old map; Kinesis reports other shards
	if f.listCalls != 2 || p.Stats().ShardListings != 1 {
		// one walk of two pages so far
		t.Fatalf("%d ListShards calls, %d listings", f.listCalls, p.Stats().ShardListings)
	}
	f.mu.Lock()
	clear(f.log)
	f.mu.Unlock()
	want := put(1000, 500)
	if p.Stats().ShardListings != 2 {
		t.Fatalf("%d listings after the reshard, want 2", p.Stats().ShardListings)
	}
	checkRecords(t, want, f.readBack(t), true, f.shardOf)
}

func TestProducerLinger(t *testing.T) {
	f := newFake(1, 10)
	now := time.Unix(1000, 0)
	p, _ := newTestProducer(t, f, ProducerConfig{Linger: time.Second}, WithClock(func() time.Time { return now }))
	ctx := context.Background()
	for i := range 3 {
		if err := p.Put(ctx, "k", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		now = now.Add(400 * time.Millisecond)
	}
	// the third Put came 800ms after the first: nothing sent yet
	if f.calls != 0 || p.Buffered() != 3 {
		t.Fatalf("calls %d, buffered %d before the linger", f.calls, p.Buffered())
	}
	if err := p.Put(ctx, "k", []byte{3}); err != nil { // 1.2s after the first
		t.Fatal(err)
	}
	if p.Buffered() != 0 {
		t.Fatalf("buffered %d after the linger", p.Buffered())
	}
	got := f.readBack(t)
	if len(got) != 4 || !bytes.Equal([]byte(got[3].data), []byte{3}) {
		t.Fatalf("read %v", got)
	}
}

func TestProducerConfigValidate(t *testing.T) {
	f := newFake(1, 11)
	for _, tc := range []struct {
		name string
		cfg  ProducerConfig
		want string
	}{
		{"ok", ProducerConfig{Stream: "s", Client: f}, ""},
		{"arn", ProducerConfig{Stream: "arn:aws:kinesis:us-east-1:123456789012:stream/s", Client: f}, ""},
		{"no stream", ProducerConfig{Client: f}, "Stream is empty"},
		{"bad arn", ProducerConfig{Stream: "arn:aws:s3:::bucket", Client: f}, "not a stream ARN"},
		{"no client", ProducerConfig{Stream: "s"}, "Client is nil"},
		{"too many records", ProducerConfig{Stream: "s", Client: f, CallRecords: 501}, "CallRecords"},
		{"too many bytes", ProducerConfig{Stream: "s", Client: f, CallBytes: 6 << 20}, "CallBytes"},
		{"aggregate too big", ProducerConfig{Stream: "s", Client: f, MaxAggregateBytes: 2 << 20}, "MaxAggregateBytes"},
		{"negative attempts", ProducerConfig{Stream: "s", Client: f, MaxAttempts: -1}, "MaxAttempts"},
		{"backoff order", ProducerConfig{Stream: "s", Client: f, MinBackoff: time.Second, MaxBackoff: time.Millisecond}, "MinBackoff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Validate = %v, want %q", err, tc.want)
			}
			if _, nerr := NewProducer(tc.cfg); (nerr == nil) != (err == nil) {
				t.Fatalf("NewProducer = %v, Validate = %v", nerr, err)
			}
		})
	}
}

func TestShardMapLookup(t *testing.T) {
	f := newFake(7, 12)
	f.pageSize = 3
	m, err := listShardMap(context.Background(), f, newStreamRef("s"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.ranges) != 7 {
		t.Fatalf("%d open shards, want 7", len(m.ranges))
	}
	for i := range 2000 {
		key := fmt.Sprintf("key-%d", i)
		got, ok := m.lookup(key)
		if !ok || got != f.shardOf(key) {
			t.Fatalf("lookup(%q) = %q, %v; want %q", key, got, ok, f.shardOf(key))
		}
	}
}

// TestProducerCopiesKeys puts records whose partition keys share the bytes
// of one buffer, as the Sink's keys share an Arrow buffer, overwrites the
// buffer after each Put (a pooled buffer reused once its batch is released)
// and wants every record to reach Kinesis under the key it was put with,
// aggregated or not, also when a first Flush gives up and a second one sends
// what stayed buffered.
func TestProducerCopiesKeys(t *testing.T) {
	for _, aggregate := range []bool{false, true} {
		t.Run(fmt.Sprintf("aggregate=%v", aggregate), func(t *testing.T) {
			f := newFake(2, 4)
			f.failKeys = map[string]bool{"bad-0": true}
			p, _ := newTestProducer(t, f, ProducerConfig{Aggregate: aggregate, MaxAttempts: 2})
			ctx := context.Background()
			buf := make([]byte, 5)
			var want []userRecord
			for i := range 20 {
				copy(buf, fmt.Sprintf("key-%d", i%10))
				if i == 0 && !aggregate {
					copy(buf, "bad-0")
				}
				key := unsafe.String(&buf[0], len(buf))
				data := fmt.Sprintf("%s/%d", key, i)
				if err := p.Put(ctx, key, []byte(data)); err != nil {
					t.Fatal(err)
				}
				if key != "bad-0" {
					want = append(want, userRecord{key: strings.Clone(key), data: data})
				}
				copy(buf, "XXXXX")
			}
			err := p.Flush(ctx)
			var re *RecordError
			if !aggregate && (!errors.As(err, &re) || re.PartitionKey != "bad-0") {
				t.Fatalf("first Flush = %v, want a RecordError for key bad-0", err)
			}
			if err := p.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			got := f.readBack(t)
			checkRecords(t, want, got, true, nil)
			for _, r := range got {
				if !strings.HasPrefix(r.data, r.key+"/") {
					t.Fatalf("record %q arrived under key %q", r.data, r.key)
				}
			}
		})
	}
}
