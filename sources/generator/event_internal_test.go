package generator

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestAppendRFC3339Millis(t *testing.T) {
	cases := []int64{
		0, -1, 1, 999, 86_399_999, 86_400_000, -86_400_001,
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(),
		time.Date(2024, 2, 29, 23, 59, 59, 999e6, time.UTC).UnixMilli(),
		time.Date(2100, 3, 1, 0, 0, 0, 0, time.UTC).UnixMilli(),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(),
		time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC).UnixMilli(),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(),
	}
	rng := rand.New(rand.NewPCG(1, 2))
	lo, hi := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	for range 100_000 {
		cases = append(cases, lo+rng.Int64N(hi-lo))
	}
	for _, ms := range cases {
		want := time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
		if got := string(appendRFC3339Millis(nil, ms)); got != want {
			t.Fatalf("appendRFC3339Millis(%d) = %s, want %s", ms, got, want)
		}
	}
}

func TestAppendEventAllocatesNothing(t *testing.T) {
	cfg := Config{Seed: 3, BadEvery: 7}.withDefaults()
	p := newParams(cfg)
	buf := make([]byte, 0, 1024)
	var i int64
	allocs := testing.AllocsPerRun(1000, func() {
		buf, _, _ = p.appendEvent(buf[:0], int(i%4), i)
		i++
	})
	if allocs != 0 {
		t.Errorf("appendEvent allocates %v times per event, want 0", allocs)
	}
}
