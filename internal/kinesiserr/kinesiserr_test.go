package kinesiserr

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	lo, hi := 100*time.Millisecond, 5*time.Second
	none := func(time.Duration) time.Duration { return 0 }
	all := func(n time.Duration) time.Duration { return n - 1 }
	for _, tc := range []struct {
		attempt  int
		min, max time.Duration
	}{
		{0, 50 * time.Millisecond, 100 * time.Millisecond},
		{1, 100 * time.Millisecond, 200 * time.Millisecond},
		{3, 400 * time.Millisecond, 800 * time.Millisecond},
		{10, 2500 * time.Millisecond, 5 * time.Second}, // capped
		{1000, 2500 * time.Millisecond, 5 * time.Second},
	} {
		if got := Backoff(tc.attempt, lo, hi, none); got != tc.min {
			t.Errorf("attempt %d, least jitter: %v, want %v", tc.attempt, got, tc.min)
		}
		if got := Backoff(tc.attempt, lo, hi, all); got != tc.max {
			t.Errorf("attempt %d, most jitter: %v, want %v", tc.attempt, got, tc.max)
		}
		if got := Backoff(tc.attempt, lo, hi, nil); got < tc.min || got > tc.max {
			t.Errorf("attempt %d: %v outside [%v, %v]", tc.attempt, got, tc.min, tc.max)
		}
	}
}

func TestSleepStopsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep on a cancelled context: %v", err)
	}
	if err := Sleep(context.Background(), 0); err != nil {
		t.Errorf("Sleep(0): %v", err)
	}
}
