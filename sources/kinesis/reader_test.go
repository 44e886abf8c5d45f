package kinesis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardflow/shardflow/pipeline"
)

type countMetrics struct {
	mu                                 sync.Mutex
	records, bytes, throttles, retries int
	behind                             []int64
}

func (m *countMetrics) RecordsIn(_ string, records, bytes int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.records += records
	m.bytes += bytes
}
func (m *countMetrics) MillisBehind(_ string, ms int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.behind = append(m.behind, ms)
}
func (m *countMetrics) IteratorAge(string, time.Duration) {}
func (m *countMetrics) Throttled(string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.throttles++
}
func (m *countMetrics) Retried(string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.retries++
}

func payloads(n int, size int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		p := fmt.Appendf(nil, "r%06d", i)
		for len(p) < size {
			p = append(p, '.')
		}
		out[i] = p
	}
	return out
}

func openReader(t testing.TB, api API, cfg Config, shard string, after pipeline.Position) *shardReader {
	t.Helper()
	cfg.Stream, cfg.Client = "s", api
	if cfg.Mem == nil {
		cfg.Mem = checkedMem(t)
	}
	src, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := src.OpenShard(context.Background(), pipeline.Shard{ID: shard}, after)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r.(*shardReader)
}

// TestPacing checks the call rate per shard: at most 5 GetRecords calls/s
// while behind, PollInterval once caught up, and ReadShare of 2 MB/s.
func TestPacing(t *testing.T) {
	tests := []struct {
		name      string
		records   int
		size      int
		cfg       Config
		window    time.Duration
		wantCalls [2]int // inclusive range of GetRecords calls in window
		minGap    time.Duration
	}{
		{"behind: 5 calls/s", 6000, 10, Config{MaxRecordsPerCall: 100}, 10 * time.Second, [2]int{50, 51}, MinCallInterval},
		{"caught up: poll interval", 0, 0, Config{PollInterval: 2 * time.Second}, 20 * time.Second, [2]int{10, 11}, 2 * time.Second},
		{"poll interval below 200ms is raised", 0, 0, Config{PollInterval: time.Millisecond}, 10 * time.Second, [2]int{50, 51}, MinCallInterval},
		{"read share of 2 MB/s", 400, 100 << 10, Config{MaxRecordsPerCall: 10, ReadShare: 0.25}, 20 * time.Second, [2]int{10, 11}, 1950 * time.Millisecond}, // 1,024,000 B per call at 512 KiB/s
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sh := &fakeShard{id: "shardId-0"}
				api := newFake(sh)
				api.put(sh, "k", payloads(tt.records, tt.size)...)
				r := openReader(t, api, tt.cfg, sh.id, pipeline.Position{})
				ctx, cancel := context.WithTimeout(t.Context(), tt.window-time.Millisecond)
				defer cancel()
				for ctx.Err() == nil {
					b, err := r.Read(ctx)
					b.Release()
					if err != nil && !errors.Is(err, context.DeadlineExceeded) {
						t.Fatal(err)
					}
				}
				calls := api.callsOf("GetRecords")
				if n := len(calls); n < tt.wantCalls[0] || n > tt.wantCalls[1] {
					t.Errorf("%d GetRecords calls in %v, want %v", n, tt.window, tt.wantCalls)
				}
				for i := 1; i < len(calls); i++ {
					if gap := calls[i].at.Sub(calls[i-1].at); gap < tt.minGap {
						t.Fatalf("calls %d and %d %v apart, want >= %v", i-1, i, gap, tt.minGap)
					}
				}
			})
		})
	}
}

// TestReadReturnsWithinASecond: with nothing to read, Read returns a nil batch
// within a second so that the runtime can ask Idle (barriers no longer wait
// for Read: the runtime reads in a goroutine of its own).
func TestReadReturnsWithinASecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sh := &fakeShard{id: "shardId-0"}
		api := newFake(sh)
		r := openReader(t, api, Config{PollInterval: 10 * time.Second}, sh.id, pipeline.Position{})
		for range 5 {
			start := time.Now()
			b, err := r.Read(t.Context())
			if b != nil || err != nil {
				t.Fatalf("Read = %v, %v; want nil, nil", b, err)
			}
			if d := time.Since(start); d > maxReadWait {
				t.Fatalf("Read took %v", d)
			}
		}
		// Also while backing off from throttles.
		api.fail = func(op string, n int) error {
			return &types.ProvisionedThroughputExceededException{Message: aws.String("Rate exceeded")}
		}
		r.cfg.MinBackoff, r.cfg.MaxBackoff = 5*time.Second, 5*time.Second
		for range 5 {
			start := time.Now()
			if _, err := r.Read(t.Context()); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > maxReadWait {
				t.Fatalf("Read took %v while backing off", d)
			}
		}
	})
}

func TestRetries(t *testing.T) {
	throttle := &types.ProvisionedThroughputExceededException{Message: aws.String("Rate exceeded for shard")}
	limit := &types.LimitExceededException{Message: aws.String("Rate exceeded")}
	internal := &types.InternalFailureException{Message: aws.String("oops")}
	notFound := &types.ResourceNotFoundException{Message: aws.String("no stream")}
	tests := []struct {
		name          string
		fail          func(op string, n int) error
		wantErr       error // nil: every record is read exactly once
		wantThrottles int
		wantRetries   int
	}{
		{"throttled reads", func(op string, n int) error {
			if op == "GetRecords" && n >= 2 && n <= 4 {
				return throttle
			}
			return nil
		}, nil, 3, 3},
		{"throttled iterator", func(op string, n int) error {
			if op == "GetShardIterator" && n <= 2 {
				return limit
			}
			return nil
		}, nil, 2, 2},
		{"internal failures", func(op string, n int) error {
			if op == "GetRecords" && n%3 == 0 {
				return internal
			}
			return nil
		}, nil, 0, 4},
		{"expired iterator", func(op string, n int) error {
			if op == "GetRecords" && (n == 3 || n == 7) {
				return &types.ExpiredIteratorException{Message: aws.String("Iterator expired")}
			}
			return nil
		}, nil, 0, 2},
		{"too many throttles", func(op string, n int) error {
			if op == "GetRecords" && n > 1 {
				return throttle
			}
			return nil
		}, throttle, 4, 3},
		{"not retryable", func(op string, n int) error {
			if op == "GetRecords" && n == 2 {
				return notFound
			}
			return nil
		}, notFound, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sh := &fakeShard{id: "shardId-0", closed: true}
				api := newFake(sh)
				want := api.put(sh, "k", payloads(100, 10)...)
				api.fail = tt.fail
				m := &countMetrics{}
				r := openReader(t, api, Config{MaxRecordsPerCall: 10, MaxRetries: 3, Metrics: m}, sh.id, pipeline.Position{})
				var got []string
				var err error
				for {
					var b *pipeline.Batch
					b, err = r.Read(t.Context())
					if err != nil {
						break
					}
					for _, row := range rows(t, b) {
						got = append(got, row.Pos.Seq)
					}
				}
				if tt.wantErr != nil {
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("Read error %v, want %v", err, tt.wantErr)
					}
				} else {
					if !errors.Is(err, pipeline.ErrShardEnd) {
						t.Fatalf("Read error %v, want ErrShardEnd", err)
					}
					if !slices.Equal(got, want) {
						t.Fatalf("read %d records, want %d in order, exactly once", len(got), len(want))
					}
				}
				if m.throttles != tt.wantThrottles || m.retries != tt.wantRetries {
					t.Errorf("throttles %d retries %d, want %d %d", m.throttles, m.retries, tt.wantThrottles, tt.wantRetries)
				}
			})
		})
	}
}

// TestBackoffGrows: consecutive throttles back off exponentially with jitter,
// within [MinBackoff/2, MaxBackoff].
func TestBackoffGrows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sh := &fakeShard{id: "shardId-0", closed: true}
		api := newFake(sh)
		api.put(sh, "k", []byte("x"))
		api.fail = func(op string, n int) error {
			if op == "GetRecords" && n <= 6 {
				return &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}
			}
			return nil
		}
		r := openReader(t, api, Config{MinBackoff: 400 * time.Millisecond, MaxBackoff: 4 * time.Second}, sh.id, pipeline.Position{})
		got := drain(t.Context(), t, r, nil)
		if len(got) != 1 {
			t.Fatalf("got %d records", len(got))
		}
		calls := api.callsOf("GetRecords")
		for i := 1; i < len(calls); i++ {
			gap := calls[i].at.Sub(calls[i-1].at)
			ceil := min(4*time.Second, 400*time.Millisecond<<(i-1))
			lo := ceil / 2 // equal jitter keeps at least half
			if i <= 6 && (gap < lo || gap > ceil) {
				t.Errorf("retry %d after %v, want in [%v, %v]", i, gap, lo, ceil)
			}
		}
	})
}

// TestIteratorExpiresWhileRuntimeIsSlow: an iterator that outlives its 5
// minutes (a slow downstream) is renewed after the last record read.
func TestIteratorExpiresWhileRuntimeIsSlow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sh := &fakeShard{id: "shardId-0", closed: true}
		api := newFake(sh)
		want := api.put(sh, "k", payloads(50, 10)...)
		m := &countMetrics{}
		r := openReader(t, api, Config{MaxRecordsPerCall: 10, Metrics: m}, sh.id, pipeline.Position{})
		var got []string
		for {
			b, err := r.Read(t.Context())
			if errors.Is(err, pipeline.ErrShardEnd) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, row := range rows(t, b) {
				got = append(got, row.Pos.Seq)
			}
			time.Sleep(6 * time.Minute)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		if m.retries != 4 {
			t.Errorf("%d renewals, want 4", m.retries)
		}
		its := api.callsOf("GetShardIterator")
		if len(its) != 5 {
			t.Fatalf("%d GetShardIterator calls, want 5", len(its))
		}
		for i, c := range its[1:] {
			in := c.in.(*kinesis.GetShardIteratorInput)
			if in.ShardIteratorType != types.ShardIteratorTypeAfterSequenceNumber || *in.StartingSequenceNumber != want[10*(i+1)-1] {
				t.Errorf("renewal %d: %s %s, want AFTER_SEQUENCE_NUMBER %s", i, in.ShardIteratorType, aws.ToString(in.StartingSequenceNumber), want[10*(i+1)-1])
			}
		}
	})
}

func TestClosedShardEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sh := &fakeShard{id: "shardId-0", closed: true}
		api := newFake(sh)
		api.put(sh, "k", payloads(25, 10)...)
		r := openReader(t, api, Config{MaxRecordsPerCall: 10}, sh.id, pipeline.Position{})
		if got := drain(t.Context(), t, r, nil); len(got) != 25 {
			t.Fatalf("got %d records, want 25", len(got))
		}
		for range 2 { // stays ended
			if _, err := r.Read(t.Context()); !errors.Is(err, pipeline.ErrShardEnd) {
				t.Fatalf("Read after the end: %v", err)
			}
		}
	})
}

func TestStartPositions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sh := &fakeShard{id: "shardId-0"}
		api := newFake(sh)
		old := api.put(sh, "k", payloads(3, 4)...)
		time.Sleep(time.Minute)
		mid := time.Now()
		newer := api.put(sh, "k", []byte("n1"), []byte("n2"))
		tests := []struct {
			start string
			after pipeline.Position
			want  []string
		}{
			{"", pipeline.Position{}, append(slices.Clone(old), newer...)},
			{"trim_horizon", pipeline.Position{}, append(slices.Clone(old), newer...)},
			{"at_timestamp:" + mid.Format(time.RFC3339Nano), pipeline.Position{}, newer},
			{"latest", pipeline.Position{}, nil},
			{"latest", pipeline.Position{Seq: old[1]}, append(old[2:3:3], newer...)}, // a checkpoint wins
		}
		for _, tt := range tests {
			r := openReader(t, api, Config{Start: tt.start}, sh.id, tt.after)
			var got []string
			for _, row := range drain(t.Context(), t, r, func(got []row) bool { return r.caughtUp }) {
				got = append(got, row.Pos.Seq)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("start %q after %v: got %v, want %v", tt.start, tt.after, got, tt.want)
			}
		}
	})
}

// TestLatestExpiresBeforeAnyRecord: a LATEST iterator that expires before a
// record came is renewed at the time it was first asked for, so records put
// in between are not skipped.
func TestLatestExpiresBeforeAnyRecord(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sh := &fakeShard{id: "shardId-0"}
		api := newFake(sh)
		api.put(sh, "k", []byte("old"))
		time.Sleep(time.Second) // AT_TIMESTAMP includes records of the same instant
		r := openReader(t, api, Config{Start: "latest"}, sh.id, pipeline.Position{})
		if b, err := r.Read(t.Context()); b != nil || err != nil {
			t.Fatalf("Read = %v, %v", b, err)
		}
		time.Sleep(time.Minute)
		api.put(sh, "k", []byte("new"))
		time.Sleep(5 * time.Minute) // the iterator expires
		got := drain(t.Context(), t, r, func(got []row) bool { return len(got) > 0 })
		if len(got) != 1 || got[0].Data != "new" {
			t.Fatalf("got %v, want the record put after the start", got)
		}
	})
}

func TestIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sh := &fakeShard{id: "shardId-0"}
		api := newFake(sh)
		api.put(sh, "k", []byte("a"))
		r := openReader(t, api, Config{IdleTimeout: 10 * time.Second}, sh.id, pipeline.Position{})
		if got := drain(t.Context(), t, r, func(got []row) bool { return len(got) == 1 }); len(got) != 1 {
			t.Fatal("no record")
		}
		if r.Idle() {
			t.Fatal("idle right after a record")
		}
		start := time.Now()
		for !r.Idle() {
			if b, err := r.Read(t.Context()); b != nil || err != nil {
				t.Fatalf("Read = %v, %v", b, err)
			}
		}
		if d := time.Since(start); d < 10*time.Second || d > 12*time.Second {
			t.Errorf("idle after %v, want about 10s", d)
		}
		api.put(sh, "k", []byte("b"))
		drain(t.Context(), t, r, func(got []row) bool { return len(got) == 1 })
		if r.Idle() {
			t.Fatal("idle after a new record")
		}
	})
}
