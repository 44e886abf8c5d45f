package capacity

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The runtime's per-shard write counters (package metrics) that Sampler reads.
const (
	BytesInMetric   = "shardflow_bytes_in_total"
	RecordsInMetric = "shardflow_records_in_total"
)

// Counters are the per-shard totals of one scrape.
type Counters struct {
	Bytes   map[string]float64 // by shard label
	Records map[string]float64
}

// ParseCounters reads shardflow_bytes_in_total and shardflow_records_in_total
// from a Prometheus text exposition.
func ParseCounters(r io.Reader) (Counters, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return Counters{}, fmt.Errorf("capacity: parse metrics: %w", err)
	}
	c := Counters{Bytes: map[string]float64{}, Records: map[string]float64{}}
	for name, into := range map[string]map[string]float64{BytesInMetric: c.Bytes, RecordsInMetric: c.Records} {
		f, ok := fams[name]
		if !ok {
			return Counters{}, fmt.Errorf("capacity: metrics have no %s: is this a shardflow job's /metrics?", name)
		}
		for _, m := range f.GetMetric() {
			shard := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "shard" {
					shard = l.GetValue()
				}
			}
			v := m.GetCounter().GetValue()
			if m.GetCounter() == nil {
				v = m.GetUntyped().GetValue()
			}
			into[shard] += v // several jobs on one endpoint add up
		}
	}
	return c, nil
}

// Rates are per-second write rates summed over shards.
type Rates struct {
	BytesS   float64
	RecordsS float64
	Shards   int
	Elapsed  time.Duration
}

// WriteMiBs is BytesS in MiB/s.
func (r Rates) WriteMiBs() float64 { return r.BytesS / (1024 * 1024) }

// RatesBetween is the per-second increase from a to b over elapsed. A shard
// first seen in b (a child after a reshard) counts from 0; a counter that went
// down means the job restarted between the scrapes, and is refused.
func RatesBetween(a, b Counters, elapsed time.Duration) (Rates, error) {
	if elapsed <= 0 {
		return Rates{}, fmt.Errorf("capacity: %v between scrapes: want > 0", elapsed)
	}
	r := Rates{Shards: len(b.Records), Elapsed: elapsed}
	for _, pair := range []struct {
		a, b map[string]float64
		sum  *float64
	}{{a.Bytes, b.Bytes, &r.BytesS}, {a.Records, b.Records, &r.RecordsS}} {
		for shard, v := range pair.b {
			d := v - pair.a[shard]
			if d < 0 {
				return Rates{}, fmt.Errorf("capacity: shard %q: counter went down between scrapes (job restarted?): sample again", shard)
			}
			*pair.sum += d
		}
	}
	r.BytesS /= elapsed.Seconds()
	r.RecordsS /= elapsed.Seconds()
	return r, nil
}

// Sampler scrapes a job's /metrics twice, Interval apart, and measures what
// is written. Now and Sleep are the clock; tests replace them.
type Sampler struct {
	Client   *http.Client
	Interval time.Duration
	Now      func() time.Time
	Sleep    func(ctx context.Context, d time.Duration) error
}

// Sample returns the write rates url's counters show over s.Interval.
func (s Sampler) Sample(ctx context.Context, url string) (Rates, error) {
	if s.Interval <= 0 {
		return Rates{}, fmt.Errorf("capacity: sample interval %v: want > 0", s.Interval)
	}
	client, now, sleep := s.Client, s.Now, s.Sleep
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	if now == nil {
		now = time.Now
	}
	if sleep == nil {
		sleep = sleepCtx
	}
	a, err := scrape(ctx, client, url)
	if err != nil {
		return Rates{}, err
	}
	t0 := now()
	if err := sleep(ctx, s.Interval); err != nil {
		return Rates{}, err
	}
	b, err := scrape(ctx, client, url)
	if err != nil {
		return Rates{}, err
	}
	r, err := RatesBetween(a, b, now().Sub(t0))
	if err != nil {
		return Rates{}, err
	}
	if r.RecordsS == 0 {
		return Rates{}, fmt.Errorf("capacity: %s: no record written in %v: nothing to plan from", url, r.Elapsed)
	}
	return r, nil
}

func scrape(ctx context.Context, client *http.Client, url string) (Counters, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Counters{}, fmt.Errorf("capacity: metrics %s: %w", url, err)
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := client.Do(req)
	if err != nil {
		return Counters{}, fmt.Errorf("capacity: metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Counters{}, fmt.Errorf("capacity: metrics %s: %s", url, resp.Status)
	}
	c, err := ParseCounters(resp.Body)
	if err != nil {
		return Counters{}, fmt.Errorf("%w (from %s)", err, url)
	}
	return c, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
