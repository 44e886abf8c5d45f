package metrics_test

import (
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/shardflow/shardflow/metrics"
	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sources/kinesis"
)

var (
	_ pipeline.Metrics = (*metrics.Metrics)(nil)
	_ kinesis.Metrics  = (*metrics.Metrics)(nil)
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a fake clock for checkpoint_age_seconds.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newMetrics(t *testing.T) (*metrics.Metrics, *prometheus.Registry, *clock) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	clk := &clock{t: epoch}
	m, err := metrics.New(reg, "clickstream", metrics.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	return m, reg, clk
}

func compare(t *testing.T, reg prometheus.Gatherer, want string, names ...string) {
	t.Helper()
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
}

// TestEveryHook drives every hook of both interfaces and checks the whole
// exposition.
func TestEveryHook(t *testing.T) {
	m, reg, clk := newMetrics(t)

	// runtime hooks
	m.ShardRead("shardId-000", 100, 4000)
	m.ShardRead("shardId-000", 50, 1000)
	m.ShardRead("shardId-001", 7, 70)
	m.Watermark(pipeline.MinTime)
	m.Watermark(1_772_366_400_500) // 2026-03-01T12:00:00.5Z
	m.Checkpoint(1, 250*time.Millisecond, nil)
	m.Checkpoint(2, 3*time.Second, errors.New("sink: pre-commit failed"))
	clk.Add(1500 * time.Millisecond)
	m.Checkpoint(3, 500*time.Millisecond, nil)
	clk.Add(90 * time.Second)

	// kinesis hooks
	m.RecordsIn("shardId-000", 140, 4900)
	m.RecordsIn("shardId-001", 7, 70)
	m.MillisBehind("shardId-000", 12_000)
	m.MillisBehind("shardId-000", 3_000)
	m.MillisBehind("shardId-001", 0)
	m.IteratorAge("shardId-000", 2500*time.Millisecond)
	m.Throttled("shardId-001")
	m.Throttled("shardId-001")
	m.Retried("shardId-001")
	m.Retried("shardId-001")
	m.Retried("shardId-000")

	compare(t, reg, `
# HELP shardflow_bytes_in_total Payload bytes read from a shard, counted by the runtime for every source.
# TYPE shardflow_bytes_in_total counter
shardflow_bytes_in_total{job="clickstream",shard="shardId-000"} 5000
shardflow_bytes_in_total{job="clickstream",shard="shardId-001"} 70
# HELP shardflow_checkpoint_age_seconds Seconds since the last successful checkpoint completed (since start when none has).
# TYPE shardflow_checkpoint_age_seconds gauge
shardflow_checkpoint_age_seconds{job="clickstream"} 90
# HELP shardflow_checkpoint_duration_seconds Duration of successful checkpoints, from start to persisted.
# TYPE shardflow_checkpoint_duration_seconds histogram
shardflow_checkpoint_duration_seconds_bucket{job="clickstream",le="0.01"} 0
shardflow_checkpoint_duration_seconds_bucket{job="clickstream",le="0.025"} 0
shardflow_checkpoint_duration_seconds_bucket{job="clickstream",le="0.05"} 0
shardflow_checkpoint_duration_seconds_bucket{job="clickstream",le="0.1"} 0
shardflow_checkpoint_duration_seconds_bucket{job="clickstream",le="0.25"} 1
shardflow_checkpoint_duration_seconds_bucket{job="clickstream",le="0.5"} 2
shardflow_checkpoint_duration_seconds_bucket{job="clickstream",le="1"} 2
shardflow_checkpoint_duration_seconds_bucket{job="clickstream",le="2.5"} 2
shardflow_checkpoint_duration_seconds_bucket{job="clickstream",le="5"} 2
shardflow_checkpoint_duration_seconds_bucket{job="clickstream",le="10"} 2
shardflow_checkpoint_duration_seconds_bucket{job="clickstream",le="30"} 2
shardflow_checkpoint_duration_seconds_bucket{job="clickstream",le="60"} 2
shardflow_checkpoint_duration_seconds_bucket{job="clickstream",le="+Inf"} 2
shardflow_checkpoint_duration_seconds_sum{job="clickstream"} 0.75
shardflow_checkpoint_duration_seconds_count{job="clickstream"} 2
# HELP shardflow_checkpoints_total Checkpoints attempted, by result.
# TYPE shardflow_checkpoints_total counter
shardflow_checkpoints_total{job="clickstream",result="failed"} 1
shardflow_checkpoints_total{job="clickstream",result="ok"} 2
# HELP shardflow_iterator_age_seconds Age of the newest record of the shard's last answer (now minus its arrival time).
# TYPE shardflow_iterator_age_seconds gauge
shardflow_iterator_age_seconds{job="clickstream",shard="shardId-000"} 2.5
# HELP shardflow_kinesis_user_bytes_total Payload bytes of Kinesis user records read from a shard (after KPL deaggregation).
# TYPE shardflow_kinesis_user_bytes_total counter
shardflow_kinesis_user_bytes_total{job="clickstream",shard="shardId-000"} 4900
shardflow_kinesis_user_bytes_total{job="clickstream",shard="shardId-001"} 70
# HELP shardflow_kinesis_user_records_total Kinesis user records read from a shard (after KPL deaggregation).
# TYPE shardflow_kinesis_user_records_total counter
shardflow_kinesis_user_records_total{job="clickstream",shard="shardId-000"} 140
shardflow_kinesis_user_records_total{job="clickstream",shard="shardId-001"} 7
# HELP shardflow_last_checkpoint_id ID of the last successful checkpoint.
# TYPE shardflow_last_checkpoint_id gauge
shardflow_last_checkpoint_id{job="clickstream"} 3
# HELP shardflow_millis_behind_latest Kinesis MillisBehindLatest of the shard's last answer.
# TYPE shardflow_millis_behind_latest gauge
shardflow_millis_behind_latest{job="clickstream",shard="shardId-000"} 3000
shardflow_millis_behind_latest{job="clickstream",shard="shardId-001"} 0
# HELP shardflow_records_in_total Records read from a shard, counted by the runtime for every source.
# TYPE shardflow_records_in_total counter
shardflow_records_in_total{job="clickstream",shard="shardId-000"} 150
shardflow_records_in_total{job="clickstream",shard="shardId-001"} 7
# HELP shardflow_retries_total Kinesis calls repeated after a retryable error, and iterators renewed.
# TYPE shardflow_retries_total counter
shardflow_retries_total{job="clickstream",shard="shardId-000"} 1
shardflow_retries_total{job="clickstream",shard="shardId-001"} 2
# HELP shardflow_throttles_total Kinesis answers that said a rate limit was exceeded.
# TYPE shardflow_throttles_total counter
shardflow_throttles_total{job="clickstream",shard="shardId-001"} 2
# HELP shardflow_watermark_seconds The job's event-time watermark as Unix seconds.
# TYPE shardflow_watermark_seconds gauge
shardflow_watermark_seconds{job="clickstream"} 1.7723664005e+09
`)
}

func TestWatermark(t *testing.T) {
	const head = `
# HELP shardflow_watermark_seconds The job's event-time watermark as Unix seconds.
# TYPE shardflow_watermark_seconds gauge
`
	tests := []struct {
		name string
		in   []int64
		want string // "" means the series is absent
	}{
		{"none yet", nil, ""},
		{"MinTime is not a watermark", []int64{pipeline.MinTime}, ""},
		{"first finite value", []int64{pipeline.MinTime, 60_000}, head + `shardflow_watermark_seconds{job="clickstream"} 60` + "\n"},
		{"advances", []int64{60_000, 120_250}, head + `shardflow_watermark_seconds{job="clickstream"} 120.25` + "\n"},
		{"MaxTime keeps the last finite value", []int64{60_000, pipeline.MaxTime}, head + `shardflow_watermark_seconds{job="clickstream"} 60` + "\n"},
		{"MaxTime alone", []int64{pipeline.MaxTime}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, reg, _ := newMetrics(t)
			for _, ms := range tc.in {
				m.Watermark(ms)
			}
			compare(t, reg, tc.want, "shardflow_watermark_seconds")
		})
	}
}

func TestCheckpointAge(t *testing.T) {
	m, reg, clk := newMetrics(t)
	age := func() float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "shardflow_checkpoint_age_seconds" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatal("shardflow_checkpoint_age_seconds not gathered")
		return math.NaN()
	}
	steps := []struct {
		name string
		do   func()
		want float64
	}{
		{"at start", func() {}, 0},
		{"no checkpoint yet counts from start", func() { clk.Add(45 * time.Second) }, 45},
		{"success resets", func() { m.Checkpoint(1, time.Second, nil) }, 0},
		{"computed at scrape time", func() { clk.Add(30 * time.Second) }, 30},
		{"failure does not reset", func() { m.Checkpoint(2, time.Second, errors.New("boom")); clk.Add(5 * time.Second) }, 35},
		{"next success resets", func() { m.Checkpoint(3, time.Second, nil); clk.Add(2500 * time.Millisecond) }, 2.5},
		{"clock going back never reports a negative age", func() { clk.Add(-time.Hour) }, 0},
	}
	for _, s := range steps {
		s.do()
		if got := age(); got != s.want {
			t.Errorf("%s: checkpoint_age_seconds = %v, want %v", s.name, got, s.want)
		}
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name string
		reg  prometheus.Registerer
		job  string
		opts []metrics.Option
		want string
	}{
		{"nil registerer", nil, "j", nil, "metrics: nil registerer"},
		{"empty job", prometheus.NewRegistry(), "", nil, "metrics: empty job name"},
		{"nil clock", prometheus.NewRegistry(), "j", []metrics.Option{metrics.WithClock(nil)}, "metrics: nil clock"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := metrics.New(tc.reg, tc.job, tc.opts...)
			if err == nil || err.Error() != tc.want || m != nil {
				t.Fatalf("New = %v, %v; want error %q", m, err, tc.want)
			}
		})
	}
}

// A failed registration leaves nothing of the new Metrics behind, and the
// same job can be registered into another registry or under another name.
func TestNewRegistrationConflict(t *testing.T) {
	reg := prometheus.NewRegistry()
	first, err := metrics.New(reg, "clickstream")
	if err != nil {
		t.Fatal(err)
	}
	first.ShardRead("s0", 1, 10)
	if _, err := metrics.New(reg, "clickstream"); err == nil || !strings.HasPrefix(err.Error(), "metrics: register: ") {
		t.Fatalf("second New with the same job: err = %v", err)
	}
	if _, err := metrics.New(reg, "other"); err != nil {
		t.Fatalf("New for another job in the same registry: %v", err)
	}

	// a collector that conflicts with the last one New registers
	reg2 := prometheus.NewRegistry()
	reg2.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "shardflow_checkpoint_age_seconds",
		Help: "taken", ConstLabels: prometheus.Labels{"job": "clickstream"}}))
	if _, err := metrics.New(reg2, "clickstream"); err == nil {
		t.Fatal("New succeeded despite a conflicting collector")
	}
	if n, err := testutil.GatherAndCount(reg2); err != nil || n != 1 {
		t.Fatalf("after a failed New the registry holds %d series (err %v), want only the conflicting one", n, err)
	}
}

// Shard goroutines call the hooks while Prometheus scrapes (run with -race).
func TestConcurrentHooks(t *testing.T) {
	m, reg, _ := newMetrics(t)
	const shards, calls = 4, 500
	var wg sync.WaitGroup
	for s := range shards {
		shard := "shardId-00" + string(rune('0'+s))
		wg.Go(func() {
			for i := range calls {
				m.ShardRead(shard, 2, 20)
				m.RecordsIn(shard, 2, 20)
				m.MillisBehind(shard, int64(i))
				m.Throttled(shard)
				m.Checkpoint(uint64(i), time.Millisecond, nil)
				m.Watermark(int64(i) * 1000)
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			if _, err := reg.Gather(); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	for _, name := range []string{"shardflow_records_in_total", "shardflow_kinesis_user_records_total"} {
		if got := sumOf(t, reg, name); got != shards*calls*2 {
			t.Errorf("%s summed over shards = %v, want %d", name, got, shards*calls*2)
		}
	}
}

// sumOf returns the sum of a counter family's series.
func sumOf(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, s := range mf.GetMetric() {
				sum += s.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// TestShardDoneDeletesTheShardsSeries: after a reshard the parent's series go.
func TestShardDoneDeletesTheShardsSeries(t *testing.T) {
	m, reg, _ := newMetrics(t)
	for _, s := range []string{"shardId-000", "shardId-001"} {
		m.ShardRead(s, 10, 100)
		m.RecordsIn(s, 10, 100)
		m.MillisBehind(s, 5)
		m.IteratorAge(s, time.Second)
		m.Throttled(s)
		m.Retried(s)
	}
	m.ShardDone("shardId-000")
	compare(t, reg, `
# HELP shardflow_records_in_total Records read from a shard, counted by the runtime for every source.
# TYPE shardflow_records_in_total counter
shardflow_records_in_total{job="clickstream",shard="shardId-001"} 10
# HELP shardflow_throttles_total Kinesis answers that said a rate limit was exceeded.
# TYPE shardflow_throttles_total counter
shardflow_throttles_total{job="clickstream",shard="shardId-001"} 1
`, "shardflow_records_in_total", "shardflow_throttles_total")
	n, err := testutil.GatherAndCount(reg, "shardflow_bytes_in_total", "shardflow_kinesis_user_records_total",
		"shardflow_kinesis_user_bytes_total", "shardflow_millis_behind_latest", "shardflow_iterator_age_seconds", "shardflow_retries_total")
	if err != nil || n != 6 {
		t.Errorf("%d series of the per-shard families left (%v), want the 6 of shardId-001", n, err)
	}
}

var _ kinesis.FailureMetrics = (*metrics.Metrics)(nil)

// TestReadFailures: a shard's kinesis_read_failures_total series start at
// zero for every kind when its reader opens, count by kind, and go with the
// shard.
func TestReadFailures(t *testing.T) {
	m, reg, _ := newMetrics(t)
	m.ShardOpened("shardId-000")
	m.ShardOpened("shardId-001")
	m.ReadFailed("shardId-000", "connection")
	m.ReadFailed("shardId-000", "connection")
	m.ReadFailed("shardId-001", "throttled")
	m.ShardDone("shardId-001")
	compare(t, reg, `
# HELP shardflow_kinesis_read_failures_total Failed Kinesis calls of a shard's reader that were retried, by kind of failure (connection, throttled, expired_iterator, server_error, timeout, other).
# TYPE shardflow_kinesis_read_failures_total counter
shardflow_kinesis_read_failures_total{job="clickstream",kind="connection",shard="shardId-000"} 2
shardflow_kinesis_read_failures_total{job="clickstream",kind="expired_iterator",shard="shardId-000"} 0
shardflow_kinesis_read_failures_total{job="clickstream",kind="other",shard="shardId-000"} 0
shardflow_kinesis_read_failures_total{job="clickstream",kind="server_error",shard="shardId-000"} 0
shardflow_kinesis_read_failures_total{job="clickstream",kind="throttled",shard="shardId-000"} 0
shardflow_kinesis_read_failures_total{job="clickstream",kind="timeout",shard="shardId-000"} 0
`, "shardflow_kinesis_read_failures_total")
	if len(kinesis.FailureKinds) != 6 {
		t.Errorf("FailureKinds = %v; update the help text and this test", kinesis.FailureKinds)
	}
}

var _ kinesis.LoadMetrics = (*metrics.Metrics)(nil)

// TestHotLoadMetrics: a shard's write rate, its utilization of both write
// limits and its hot key shares are set, fewer ranks delete the ones left
// over, and ShardDone deletes them all.
func TestHotLoadMetrics(t *testing.T) {
	m, reg, _ := newMetrics(t)
	m.WriteRate("shardId-000", 800, 524288)
	m.WriteRate("shardId-001", 10, 1000)
	m.HotKeyShares("shardId-000", []float64{0.6, 0.1, 0.05})
	m.HotKeyShares("shardId-000", []float64{0.7, 0.2}) // rank 3 goes
	m.HotKeyShares("shardId-001", []float64{0.3})
	compare(t, reg, `
# HELP shardflow_kinesis_hot_key_share Share of the shard's records carried by its rank-th heaviest partition key (rank 1 to 5) over the last 5 minutes of arrival time; the keys are in the job's log.
# TYPE shardflow_kinesis_hot_key_share gauge
shardflow_kinesis_hot_key_share{job="clickstream",rank="1",shard="shardId-000"} 0.7
shardflow_kinesis_hot_key_share{job="clickstream",rank="1",shard="shardId-001"} 0.3
shardflow_kinesis_hot_key_share{job="clickstream",rank="2",shard="shardId-000"} 0.2
# HELP shardflow_kinesis_shard_write_bytes_per_second Bytes (data plus partition key) written to the shard per second of arrival time, over the last minute of arrival time read.
# TYPE shardflow_kinesis_shard_write_bytes_per_second gauge
shardflow_kinesis_shard_write_bytes_per_second{job="clickstream",shard="shardId-000"} 524288
shardflow_kinesis_shard_write_bytes_per_second{job="clickstream",shard="shardId-001"} 1000
# HELP shardflow_kinesis_shard_write_records_per_second Kinesis records (an aggregate counts once) written to the shard per second of arrival time, over the last minute of arrival time read.
# TYPE shardflow_kinesis_shard_write_records_per_second gauge
shardflow_kinesis_shard_write_records_per_second{job="clickstream",shard="shardId-000"} 800
shardflow_kinesis_shard_write_records_per_second{job="clickstream",shard="shardId-001"} 10
# HELP shardflow_kinesis_shard_write_utilization The shard's write rate as a share of its write limit (1 MiB/s for limit=bytes, 1,000 records/s for limit=records).
# TYPE shardflow_kinesis_shard_write_utilization gauge
shardflow_kinesis_shard_write_utilization{job="clickstream",limit="bytes",shard="shardId-000"} 0.5
shardflow_kinesis_shard_write_utilization{job="clickstream",limit="bytes",shard="shardId-001"} 0.00095367431640625
shardflow_kinesis_shard_write_utilization{job="clickstream",limit="records",shard="shardId-000"} 0.8
shardflow_kinesis_shard_write_utilization{job="clickstream",limit="records",shard="shardId-001"} 0.01
`, "shardflow_kinesis_shard_write_bytes_per_second", "shardflow_kinesis_shard_write_records_per_second",
		"shardflow_kinesis_shard_write_utilization", "shardflow_kinesis_hot_key_share")
	if kinesis.ShardWriteBytesPerSecond != 1<<20 || kinesis.ShardWriteRecordsPerSecond != 1000 {
		t.Errorf("the source's write limits changed: update the utilization gauges")
	}

	m.ShardDone("shardId-000")
	n, err := testutil.GatherAndCount(reg, "shardflow_kinesis_shard_write_bytes_per_second", "shardflow_kinesis_shard_write_records_per_second",
		"shardflow_kinesis_shard_write_utilization", "shardflow_kinesis_hot_key_share")
	if err != nil || n != 5 {
		t.Errorf("%d series left after ShardDone (%v), want the 5 of shardId-001", n, err)
	}
	m.HotKeyShares("shardId-000", []float64{0.5}) // a shard read again starts afresh
	if n, _ := testutil.GatherAndCount(reg, "shardflow_kinesis_hot_key_share"); n != 2 {
		t.Errorf("%d hot_key_share series, want 2", n)
	}
}

// A stage's state_bytes counter is also the state_bytes{stage} gauge; other
// components' counters are not.
func TestStateBytes(t *testing.T) {
	m, reg, _ := newMetrics(t)
	m.Counters("tumbling(1m)", map[string]int64{"rows_in": 10, "state_bytes": 4096})
	m.Counters("parquet", map[string]int64{"files": 2})
	m.Counters("tumbling(1m)", map[string]int64{"rows_in": 20, "state_bytes": 1024})
	compare(t, reg, `
# HELP shardflow_state_bytes Estimated bytes of the in-memory state of the window stage (its instances summed), from its state_bytes counter; updated at every checkpoint. Compare with --state-limit, which bounds each instance.
# TYPE shardflow_state_bytes gauge
shardflow_state_bytes{job="clickstream",stage="tumbling(1m)"} 1024
`, "shardflow_state_bytes")
}
