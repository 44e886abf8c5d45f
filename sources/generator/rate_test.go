package generator_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sources/generator"
)

// fakeClock's Sleep advances Now at once; nothing in these tests waits.
type fakeClock struct {
	now    time.Time
	slept  time.Duration
	sleeps int
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.now = c.now.Add(d)
	c.slept += d
	c.sleeps++
	return nil
}

func openAll(t *testing.T, src *generator.Source, n int) []pipeline.ShardReader {
	t.Helper()
	var rs []pipeline.ShardReader
	for s := range n {
		r, err := src.OpenShard(t.Context(), pipeline.Shard{ID: generator.ShardID(s)}, pipeline.Position{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		rs = append(rs, r)
	}
	return rs
}

func TestRateLimit(t *testing.T) {
	tests := []struct {
		name      string
		rate      float64
		shards    int
		batch     int
		duration  time.Duration
		tolerance float64 // of the expected count
	}{
		{"1000/s over 4 shards", 1000, 4, 1000, 10 * time.Second, 0.05},
		{"fast rate, small batches", 200_000, 2, 100, 2 * time.Second, 0.02},
		{"slow rate", 3, 1, 1000, time.Minute, 0.05},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
			src, err := generator.New(generator.Config{Shards: tc.shards, Rate: tc.rate, BatchSize: tc.batch}, generator.WithClock(clock))
			if err != nil {
				t.Fatal(err)
			}
			rs := openAll(t, src, tc.shards)
			start := clock.now
			total := 0
			// The shard tasks would run in parallel; here they take turns on one
			// clock, which the per-shard buckets do not mind.
			for clock.now.Sub(start) < tc.duration {
				for _, r := range rs {
					before := clock.now
					b, err := r.Read(t.Context())
					if err != nil {
						t.Fatal(err)
					}
					if waited := clock.now.Sub(before); waited > 200*time.Millisecond {
						t.Fatalf("one Read waited %v, want <= 200ms", waited)
					}
					if b != nil {
						if b.Len() > tc.batch {
							t.Fatalf("batch of %d records, BatchSize %d", b.Len(), tc.batch)
						}
						total += b.Len()
						b.Release()
					}
				}
			}
			want := tc.rate * clock.now.Sub(start).Seconds()
			if got := float64(total); got < want*(1-tc.tolerance)-1 || got > want*(1+tc.tolerance)+1 {
				t.Errorf("%d events in %v of fake time, want %.0f ± %.0f%%", total, clock.now.Sub(start), want, tc.tolerance*100)
			}
		})
	}
}

func TestRateLimitedReadReturnsNil(t *testing.T) {
	clock := &fakeClock{now: time.Unix(0, 0)}
	src, err := generator.New(generator.Config{Shards: 1, Rate: 1}, generator.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	r := openAll(t, src, 1)[0]
	var got []int
	for range 10 {
		b, err := r.Read(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, b.Len())
		b.Release()
	}
	// One event per second, 200ms per empty Read: every fifth Read has one.
	want := []int{0, 0, 0, 0, 1, 0, 0, 0, 0, 1}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("records per Read = %v, want %v", got, want)
		}
	}
	if clock.slept != 2*time.Second {
		t.Errorf("slept %v in fake time, want 2s", clock.slept)
	}
}

func TestRateLimitedReadHonoursContext(t *testing.T) {
	clock := &fakeClock{now: time.Unix(0, 0)}
	src, err := generator.New(generator.Config{Shards: 1, Rate: 1}, generator.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	r := openAll(t, src, 1)[0]
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := r.Read(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Read = %v, want context.Canceled", err)
	}
}

func TestBoundedRateLimitedEnds(t *testing.T) {
	clock := &fakeClock{now: time.Unix(0, 0)}
	src, err := generator.New(generator.Config{Shards: 1, Events: 50, Rate: 100, BatchSize: 8}, generator.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	r := openAll(t, src, 1)[0]
	total := 0
	for {
		b, err := r.Read(t.Context())
		if errors.Is(err, pipeline.ErrShardEnd) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		total += b.Len()
		b.Release()
	}
	if total != 50 {
		t.Errorf("read %d events, want 50", total)
	}
	if d := clock.now.Sub(time.Unix(0, 0)); d < 450*time.Millisecond || d > 600*time.Millisecond {
		t.Errorf("50 events at 100/s took %v of fake time, want about 500ms", d)
	}
}
