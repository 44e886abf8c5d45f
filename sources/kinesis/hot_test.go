package kinesis

import (
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardflow/shardflow/pipeline"
)

// TestHotArrivalRate checks the write-rate window on given arrival
// timestamps: the rate is per second of arrival time, whenever the records
// are read.
func TestHotArrivalRate(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC) // two days before these tests ran: a replay
	steady := func(a *arrivalRate, from time.Duration, secs, perSec, size int) {
		for s := range secs {
			for i := range perSec {
				a.add(t0.Add(from+time.Duration(s)*time.Second+time.Duration(i)*time.Second/time.Duration(perSec)), size)
			}
		}
	}
	for _, tc := range []struct {
		name         string
		feed         func(a *arrivalRate)
		records, bps float64
	}{
		{"nothing", func(*arrivalRate) {}, 0, 0},
		{"two minutes at 200/s: the last 60 s", func(a *arrivalRate) { steady(a, 0, 120, 200, 100) }, 200, 20000},
		{"the first 10 s: over 10 s, not 60", func(a *arrivalRate) { steady(a, 0, 10, 200, 100) }, 200, 20000},
		{"a burst of 1,500/s after a quiet minute", func(a *arrivalRate) {
			steady(a, 0, 60, 10, 50)
			steady(a, 60*time.Second, 30, 1500, 1000)
		}, (30*10 + 30*1500) / 60.0, (30*10*50 + 30*1500*1000) / 60.0},
		{"caught up 30 s after the last record: half the window", func(a *arrivalRate) {
			steady(a, 0, 60, 100, 10)
			a.advance(t0.Add(89 * time.Second))
		}, 50, 500},
		{"caught up long after: zero", func(a *arrivalRate) {
			steady(a, 0, 60, 100, 10)
			a.advance(t0.Add(time.Hour))
		}, 0, 0},
		{"a late record older than the window is not counted", func(a *arrivalRate) {
			steady(a, 0, 120, 100, 10)
			a.add(t0, 1<<20)
		}, 100, 1000},
		{"idle from the start: zero", func(a *arrivalRate) { a.advance(t0) }, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a arrivalRate
			tc.feed(&a)
			r, b := a.rate()
			if math.Abs(r-tc.records) > 1e-9 || math.Abs(b-tc.bps) > 1e-6 {
				t.Errorf("rate = %.3f records/s, %.3f B/s; want %.3f, %.3f", r, b, tc.records, tc.bps)
			}
		})
	}
}

type loadMetrics struct {
	countMetrics
	mu     sync.Mutex
	rate   map[string][2]float64
	shares map[string][]float64
}

func (m *loadMetrics) WriteRate(shard string, records, bytes float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rate[shard] = [2]float64{records, bytes}
}

func (m *loadMetrics) HotKeyShares(shard string, shares []float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.shares[shard] = shares
}

var _ LoadMetrics = (*loadMetrics)(nil)

// TestHotReaderReplay reads six minutes of records written two days ago at
// 20 records/s, 60% of them with one key, and checks the load the reader
// reports: the rate they were written at, the hot key of the first complete
// five-minute period, and the same through LoadMetrics.
func TestHotReaderReplay(t *testing.T) {
	sh := &fakeShard{id: "shardId-0"}
	api := newFake(sh)
	t0 := time.Now().Add(-48 * time.Hour).Truncate(time.Second)
	const perSec, secs, size = 20, 360, 90
	for i := range perSec * secs {
		key := fmt.Sprintf("k%d", i%7)
		if i%5 < 3 {
			key = "hot"
		}
		api.put(sh, key, payloads(1, size)...)
		at := t0.Add(time.Duration(i) * time.Second / perSec)
		sh.records[i].ApproximateArrivalTimestamp = &at
	}
	m := &loadMetrics{rate: map[string][2]float64{}, shares: map[string][]float64{}}
	r := openReader(t, api, Config{Metrics: m, MaxRecordsPerCall: 10000}, sh.id, pipeline.Position{})
	got := 0
	for got < perSec*secs {
		b, err := r.Read(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if b != nil {
			got += int(b.Rec.NumRows())
			b.Release()
		}
	}
	loads := r.src.Load()
	if len(loads) != 1 || loads[0].Shard != sh.id {
		t.Fatalf("Load() = %+v", loads)
	}
	l := loads[0]
	wantBytes := perSec * (size + 2.6) // keys "hot" and "kN": 3/5 x 3 + 2/5 x 2 = 2.6 bytes
	if math.Abs(l.RecordsPerSecond-perSec) > 0.5 || math.Abs(l.BytesPerSecond-wantBytes) > wantBytes*0.03 {
		t.Errorf("rate %.2f records/s, %.0f B/s; want %d, %.0f", l.RecordsPerSecond, l.BytesPerSecond, perSec, wantBytes)
	}
	if u := l.RecordsUtilization; math.Abs(u-0.02) > 0.001 || l.Utilization() != u {
		t.Errorf("utilization %.4f (bytes %.4f), want 0.02 of the records limit", u, l.BytesUtilization)
	}
	if !l.KeysFrom.Equal(t0) || !l.KeysUntil.Equal(t0.Add(HotKeyPeriod)) {
		t.Errorf("keys of %v..%v, want the first period %v..%v", l.KeysFrom, l.KeysUntil, t0, t0.Add(HotKeyPeriod))
	}
	if len(l.Keys) != HotKeysReported || l.Keys[0].Key != "hot" || math.Abs(l.Keys[0].Share-0.6) > 0.01 || l.Keys[0].MaxError != 0 {
		t.Errorf("keys %+v, want \"hot\" first with 60%%, exact", l.Keys)
	}
	m.mu.Lock()
	rate, shares := m.rate[sh.id], m.shares[sh.id]
	m.mu.Unlock()
	if rate[0] != l.RecordsPerSecond || rate[1] != l.BytesPerSecond || len(shares) != HotKeysReported || shares[0] != l.Keys[0].Share {
		t.Errorf("metrics got %v, %v; Load says %+v", rate, shares, l)
	}
	r.Close()
	if loads := r.src.Load(); len(loads) != 0 {
		t.Errorf("after Close, Load() = %+v", loads)
	}
}

// BenchmarkHotNoteArrival is the per-record cost of measuring the load:
// the rate window and the Space-Saving sketch, 1,000 keys of Zipf-like skew.
func BenchmarkHotNoteArrival(b *testing.B) {
	r := &shardReader{}
	at := time.Now()
	recs := make([]types.Record, 4096)
	for i := range recs {
		k := fmt.Sprintf("user-%d", (i*i)%1000)
		if i%3 == 0 {
			k = "hot"
		}
		t := at.Add(time.Duration(i) * time.Millisecond)
		recs[i] = types.Record{PartitionKey: &k, Data: make([]byte, 100), ApproximateArrivalTimestamp: &t}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.noteArrival(&recs[i%len(recs)])
	}
}
