package capacity

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const scrape1 = `# HELP shardflow_bytes_in_total Payload bytes read from a shard, counted by the runtime for every source.
# TYPE shardflow_bytes_in_total counter
shardflow_bytes_in_total{job="clickstream",shard="shardId-000"} 1000000
shardflow_bytes_in_total{job="clickstream",shard="shardId-001"} 2000000
# HELP shardflow_records_in_total Records read from a shard, counted by the runtime for every source.
# TYPE shardflow_records_in_total counter
shardflow_records_in_total{job="clickstream",shard="shardId-000"} 1000
shardflow_records_in_total{job="clickstream",shard="shardId-001"} 2000
# TYPE shardflow_checkpoints_total counter
shardflow_checkpoints_total{job="clickstream",result="ok"} 3
`

// Ten seconds later: shard 000 wrote 10,485,760 bytes and 5,000 records, shard
// 001 wrote 20,971,520 bytes and 5,000 records, and a new child shard 002
// (from 0) 10,485,760 bytes and 2,000 records.
const scrape2 = `# TYPE shardflow_bytes_in_total counter
shardflow_bytes_in_total{job="clickstream",shard="shardId-000"} 11485760
shardflow_bytes_in_total{job="clickstream",shard="shardId-001"} 22971520
shardflow_bytes_in_total{job="clickstream",shard="shardId-002"} 10485760
# TYPE shardflow_records_in_total counter
shardflow_records_in_total{job="clickstream",shard="shardId-000"} 6000
shardflow_records_in_total{job="clickstream",shard="shardId-001"} 7000
shardflow_records_in_total{job="clickstream",shard="shardId-002"} 2000
`

// fakeClock advances only when the sampler sleeps.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }
func (c *fakeClock) sleep(_ context.Context, d time.Duration) error {
	c.t = c.t.Add(d)
	return nil
}

func serve(t *testing.T, bodies ...string) *httptest.Server {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		w.Write([]byte(bodies[min(i, len(bodies)-1)]))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestSampler(t *testing.T) {
	srv := serve(t, scrape1, scrape2)
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	s := Sampler{Client: srv.Client(), Interval: 10 * time.Second, Now: clk.now, Sleep: clk.sleep}
	r, err := s.Sample(context.Background(), srv.URL+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	// bytes: (10,485,760 + 20,971,520 + 10,485,760) / 10 s = 4,194,304 B/s = 4 MiB/s.
	// records: (5,000 + 5,000 + 2,000) / 10 s = 1,200 records/s.
	if r.WriteMiBs() != 4 || r.RecordsS != 1200 || r.Shards != 3 || r.Elapsed != 10*time.Second {
		t.Errorf("rates %+v (%v MiB/s), want 4 MiB/s, 1200 records/s, 3 shards, 10s", r, r.WriteMiBs())
	}
}

func TestSamplerRefuses(t *testing.T) {
	for name, tc := range map[string]struct {
		bodies []string
		want   string
	}{
		"restart":       {[]string{scrape2, scrape1}, "counter went down between scrapes (job restarted?)"},
		"idle":          {[]string{scrape1, scrape1}, "no record written in 10s"},
		"not shardflow": {[]string{"# TYPE up gauge\nup 1\n"}, "metrics have no shardflow_"},
		"garbage":       {[]string{"{{{\n"}, "capacity: parse metrics"},
	} {
		srv := serve(t, tc.bodies...)
		clk := &fakeClock{}
		s := Sampler{Client: srv.Client(), Interval: 10 * time.Second, Now: clk.now, Sleep: clk.sleep}
		if _, err := s.Sample(context.Background(), srv.URL); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", name, err, tc.want)
		}
	}
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	if _, err := (Sampler{Client: srv.Client(), Interval: time.Second}).Sample(context.Background(), srv.URL); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("404: %v", err)
	}
}
