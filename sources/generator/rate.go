package generator

import (
	"context"
	"math"
	"time"
)

// Clock is the time source of the rate limiter. Tests replace it (WithClock)
// with one whose Sleep advances Now instantly.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done, and returns ctx.Err() in the
	// latter case.
	Sleep(ctx context.Context, d time.Duration) error
}

// Option adjusts a Source beyond its Config.
type Option func(*Source)

// WithClock replaces the wall clock of the rate limiter.
func WithClock(c Clock) Option { return func(s *Source) { s.clock = c } }

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

const (
	// maxWait bounds how long one Read waits for tokens before it returns a
	// nil batch.
	maxWait = 200 * time.Millisecond
	// fillTime is how much of the rate a Read waits to accumulate before it
	// emits, so that a slow rate makes fewer, larger batches.
	fillTime = 50 * time.Millisecond
)

// bucket is a token bucket of one shard reader.
type bucket struct {
	clock  Clock
	rate   float64 // tokens per second
	cap    float64 // at most one batch
	want   float64 // tokens worth waiting for
	tokens float64
	last   time.Time
}

func newBucket(clock Clock, rate float64, batch int) *bucket {
	b := &bucket{clock: clock, rate: rate, cap: float64(batch), last: clock.Now()}
	b.want = min(b.cap, max(1, rate*fillTime.Seconds()))
	return b
}

func (b *bucket) refill() {
	now := b.clock.Now()
	if el := now.Sub(b.last); el > 0 {
		b.tokens = min(b.cap, b.tokens+el.Seconds()*b.rate)
	}
	b.last = now
}

// take returns how many of up to n events may be produced now, after waiting
// at most maxWait for them to become due.
func (b *bucket) take(ctx context.Context, n int) (int, error) {
	b.refill()
	if b.tokens < b.want {
		// Round the wait up to whole microseconds: a wait truncated to zero
		// would never let the bucket fill.
		wait := maxWait
		if us := math.Ceil((b.want - b.tokens) / b.rate * 1e6); us < float64(wait.Microseconds()) {
			wait = time.Duration(max(us, 1)) * time.Microsecond
		}
		if err := b.clock.Sleep(ctx, wait); err != nil {
			return 0, err
		}
		b.refill()
	}
	k := min(n, int(b.tokens+1e-9)) // float rounding must not cost a token
	b.tokens -= float64(k)
	return k, nil
}
