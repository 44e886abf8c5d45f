package metrics

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shardflow/shardflow/internal/capacity"
	"github.com/shardflow/shardflow/internal/kinesiserr"
	"github.com/shardflow/shardflow/pipeline"
)

const namespace = "shardflow"

var _ pipeline.Metrics = (*Metrics)(nil)

// Metrics records a job's measurements as Prometheus collectors. It implements
// pipeline.Metrics and the Kinesis source's Metrics; it is safe for concurrent
// use.
type Metrics struct {
	now func() time.Time

	recordsIn, bytesIn         *prometheus.CounterVec
	userRecordsIn, userBytesIn *prometheus.CounterVec
	millisBehind, iteratorAge  *prometheus.GaugeVec
	throttles, retries         *prometheus.CounterVec
	readFailures               *prometheus.CounterVec // by shard and kind
	watermark                  *prometheus.GaugeVec   // no labels: absent until first Set
	ckptDuration               prometheus.Histogram
	ckptOK, ckptFailed         prometheus.Counter
	lastCkptID                 prometheus.Gauge
	components                 *prometheus.GaugeVec
	stateBytes                 *prometheus.GaugeVec // by stage
	writeBytes, writeRecords   *prometheus.GaugeVec // by shard
	writeUtil                  *prometheus.GaugeVec // by shard and limit
	hotKeyShare                *prometheus.GaugeVec // by shard and rank
	retentionHeadroom          *prometheus.GaugeVec // by shard
	expiredResumes             *prometheus.CounterVec

	mu       sync.Mutex
	lastDone time.Time      // completion of the last successful checkpoint, or New's time
	hotRanks map[string]int // by shard: the hot_key_share ranks set
}

// A shard's write limits, as the utilization gauges divide by them.
const (
	shardWriteBytes   = capacity.ShardWriteMiBs * (1 << 20)
	shardWriteRecords = capacity.ShardWriteRecords
)

// Option sets an optional knob of New.
type Option func(*Metrics)

// WithClock replaces time.Now as the clock behind checkpoint_age_seconds
// (for tests).
func WithClock(now func() time.Time) Option { return func(m *Metrics) { m.now = now } }

// New creates the job's collectors and registers them into reg. On a
// registration error (for example a second Metrics for the same job in one
// registry) nothing stays registered.
func New(reg prometheus.Registerer, job string, opts ...Option) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("metrics: nil registerer")
	}
	if job == "" {
		return nil, errors.New("metrics: empty job name")
	}
	m := &Metrics{now: time.Now, hotRanks: map[string]int{}}
	for _, o := range opts {
		o(m)
	}
	if m.now == nil {
		return nil, errors.New("metrics: nil clock")
	}
	m.lastDone = m.now()

	cl := prometheus.Labels{"job": job}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help, ConstLabels: cl}, labels)
	}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help, ConstLabels: cl}, labels)
	}
	m.recordsIn = counter("records_in_total", "Records read from a shard, counted by the runtime for every source.", "shard")
	m.bytesIn = counter("bytes_in_total", "Payload bytes read from a shard, counted by the runtime for every source.", "shard")
	m.userRecordsIn = counter("kinesis_user_records_total", "Kinesis user records read from a shard (after KPL deaggregation).", "shard")
	m.userBytesIn = counter("kinesis_user_bytes_total", "Payload bytes of Kinesis user records read from a shard (after KPL deaggregation).", "shard")
	m.millisBehind = gauge("millis_behind_latest", "Kinesis MillisBehindLatest of the shard's last answer.", "shard")
	m.iteratorAge = gauge("iterator_age_seconds", "Age of the newest record of the shard's last answer (now minus its arrival time).", "shard")
	m.throttles = counter("throttles_total", "Kinesis answers that said a rate limit was exceeded.", "shard")
	m.retries = counter("retries_total", "Kinesis calls repeated after a retryable error, and iterators renewed.", "shard")
	m.readFailures = counter("kinesis_read_failures_total", "Failed Kinesis calls of a shard's reader that were retried, by kind of failure "+
		"(connection, throttled, expired_iterator, server_error, timeout, other).", "shard", "kind")
	m.watermark = gauge("watermark_seconds", "The job's event-time watermark as Unix seconds.")
	m.ckptDuration = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: "checkpoint_duration_seconds",
		Help: "Duration of successful checkpoints, from start to persisted.", ConstLabels: cl,
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}})
	ckpts := counter("checkpoints_total", "Checkpoints attempted, by result.", "result")
	m.ckptOK, m.ckptFailed = ckpts.WithLabelValues("ok"), ckpts.WithLabelValues("failed")
	m.lastCkptID = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "last_checkpoint_id",
		Help: "ID of the last successful checkpoint.", ConstLabels: cl})
	age := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: "checkpoint_age_seconds",
		Help: "Seconds since the last successful checkpoint completed (since start when none has).", ConstLabels: cl},
		m.checkpointAge)

	m.components = gauge("component_count", "Counters of the job's stages and sinks (rows, dead letters, windows fired, files committed, ...), by component and counter; updated at every checkpoint.", "component", "counter")

	m.stateBytes = gauge("state_bytes", "Estimated bytes of the in-memory state of the window stage (its instances summed), from its state_bytes counter; updated at every checkpoint. Compare with --state-limit, which bounds each instance.", "stage")

	m.writeBytes = gauge("kinesis_shard_write_bytes_per_second", "Bytes (data plus partition key) written to the shard per second of arrival time, over the last minute of arrival time read.", "shard")
	m.writeRecords = gauge("kinesis_shard_write_records_per_second", "Kinesis records (an aggregate counts once) written to the shard per second of arrival time, over the last minute of arrival time read.", "shard")
	m.writeUtil = gauge("kinesis_shard_write_utilization", "The shard's write rate as a share of its write limit (1 MiB/s for limit=bytes, 1,000 records/s for limit=records).", "shard", "limit")
	m.hotKeyShare = gauge("kinesis_hot_key_share", "Share of the shard's records carried by its rank-th heaviest partition key (rank 1 to 5) over the last 5 minutes of arrival time; the keys are in the job's log.", "shard", "rank")

	m.retentionHeadroom = gauge("kinesis_retention_headroom_seconds", "How long the shard's last record read has before the stream's retention expires it (the retention period minus its age); near 0, records the job has not read yet are about to expire.", "shard")
	m.expiredResumes = counter("kinesis_expired_resumes_total", "Shards that resumed past records that had expired unread (with --accept-expired).", "shard")

	cs := []prometheus.Collector{m.recordsIn, m.bytesIn, m.userRecordsIn, m.userBytesIn, m.millisBehind,
		m.iteratorAge, m.throttles, m.retries, m.readFailures, m.watermark, m.ckptDuration, ckpts, m.lastCkptID, age, m.components, m.stateBytes,
		m.writeBytes, m.writeRecords, m.writeUtil, m.hotKeyShare, m.retentionHeadroom, m.expiredResumes}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return nil, fmt.Errorf("metrics: register: %w", err)
		}
	}
	return m, nil
}

func (m *Metrics) checkpointAge() float64 {
	m.mu.Lock()
	last := m.lastDone
	m.mu.Unlock()
	return max(0, m.now().Sub(last).Seconds())
}

// ShardRead implements pipeline.Metrics: records_in_total and bytes_in_total.
func (m *Metrics) ShardRead(shard string, records, bytes int) {
	m.recordsIn.WithLabelValues(shard).Add(float64(records))
	m.bytesIn.WithLabelValues(shard).Add(float64(bytes))
}

// Watermark implements pipeline.Metrics. pipeline.MinTime and pipeline.MaxTime
// are not exported: the gauge keeps its last finite value.
func (m *Metrics) Watermark(ms int64) {
	if ms == pipeline.MinTime || ms == pipeline.MaxTime {
		return
	}
	m.watermark.WithLabelValues().Set(float64(ms) / 1e3)
}

// Checkpoint implements pipeline.Metrics.
func (m *Metrics) Checkpoint(id uint64, took time.Duration, err error) {
	if err != nil {
		m.ckptFailed.Inc()
		return
	}
	done := m.now()
	m.ckptOK.Inc()
	m.ckptDuration.Observe(took.Seconds())
	m.lastCkptID.Set(float64(id))
	m.mu.Lock()
	if done.After(m.lastDone) {
		m.lastDone = done
	}
	m.mu.Unlock()
}

// RecordsIn implements kinesis.Metrics: kinesis_user_records_total and
// kinesis_user_bytes_total.
func (m *Metrics) RecordsIn(shard string, records, bytes int) {
	m.userRecordsIn.WithLabelValues(shard).Add(float64(records))
	m.userBytesIn.WithLabelValues(shard).Add(float64(bytes))
}

// MillisBehind implements kinesis.Metrics.
func (m *Metrics) MillisBehind(shard string, ms int64) {
	m.millisBehind.WithLabelValues(shard).Set(float64(ms))
}

// IteratorAge implements kinesis.Metrics.
func (m *Metrics) IteratorAge(shard string, age time.Duration) {
	m.iteratorAge.WithLabelValues(shard).Set(age.Seconds())
}

// RetentionHeadroom implements kinesis.RetentionMetrics.
func (m *Metrics) RetentionHeadroom(shard string, headroom time.Duration) {
	m.retentionHeadroom.WithLabelValues(shard).Set(headroom.Seconds())
}

// ExpiredResumed implements kinesis.RetentionMetrics.
func (m *Metrics) ExpiredResumed(shard string) { m.expiredResumes.WithLabelValues(shard).Inc() }

// ShardDone implements pipeline.Metrics: it deletes the shard's series, so
// that a stream that reshards over months does not grow them without bound.
func (m *Metrics) ShardDone(shard string) {
	for _, v := range []*prometheus.MetricVec{m.recordsIn.MetricVec, m.bytesIn.MetricVec,
		m.userRecordsIn.MetricVec, m.userBytesIn.MetricVec, m.millisBehind.MetricVec,
		m.iteratorAge.MetricVec, m.throttles.MetricVec, m.retries.MetricVec, m.writeBytes.MetricVec, m.writeRecords.MetricVec,
		m.retentionHeadroom.MetricVec} {
		v.DeleteLabelValues(shard)
	}
	for _, v := range []*prometheus.MetricVec{m.readFailures.MetricVec, m.writeUtil.MetricVec, m.hotKeyShare.MetricVec} {
		v.DeletePartialMatch(prometheus.Labels{"shard": shard})
	}
	m.mu.Lock()
	delete(m.hotRanks, shard)
	m.mu.Unlock()
}

// Throttled implements kinesis.Metrics.
func (m *Metrics) Throttled(shard string) { m.throttles.WithLabelValues(shard).Inc() }

// Retried implements kinesis.Metrics.
func (m *Metrics) Retried(shard string) { m.retries.WithLabelValues(shard).Inc() }

// Counters implements pipeline.Metrics: component_count{component, counter},
// and state_bytes{stage} for a stage that reports a state_bytes counter.
func (m *Metrics) Counters(component string, counters map[string]int64) {
	for name, v := range counters {
		m.components.WithLabelValues(component, name).Set(float64(v))
	}
	if v, ok := counters["state_bytes"]; ok {
		m.stateBytes.WithLabelValues(component).Set(float64(v))
	}
}

// ShardOpened implements kinesis.FailureMetrics: the shard's
// kinesis_read_failures_total series start at zero, one per kind.
func (m *Metrics) ShardOpened(shard string) {
	for _, kind := range kinesiserr.Kinds {
		m.readFailures.WithLabelValues(shard, kind)
	}
}

// ReadFailed implements kinesis.FailureMetrics.
func (m *Metrics) ReadFailed(shard, kind string) { m.readFailures.WithLabelValues(shard, kind).Inc() }

// WriteRate implements kinesis.LoadMetrics: kinesis_shard_write_bytes_per_second,
// kinesis_shard_write_records_per_second and kinesis_shard_write_utilization.
func (m *Metrics) WriteRate(shard string, recordsPerSecond, bytesPerSecond float64) {
	m.writeRecords.WithLabelValues(shard).Set(recordsPerSecond)
	m.writeBytes.WithLabelValues(shard).Set(bytesPerSecond)
	m.writeUtil.WithLabelValues(shard, "records").Set(recordsPerSecond / shardWriteRecords)
	m.writeUtil.WithLabelValues(shard, "bytes").Set(bytesPerSecond / shardWriteBytes)
}

// HotKeyShares implements kinesis.LoadMetrics: kinesis_hot_key_share{shard,
// rank}, rank from 1. Ranks set before and not given now are deleted, so the
// series stay at most as many per shard as the source reports (5).
func (m *Metrics) HotKeyShares(shard string, shares []float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, v := range shares {
		m.hotKeyShare.WithLabelValues(shard, strconv.Itoa(i+1)).Set(v)
	}
	for rank := len(shares) + 1; rank <= m.hotRanks[shard]; rank++ {
		m.hotKeyShare.DeleteLabelValues(shard, strconv.Itoa(rank))
	}
	m.hotRanks[shard] = len(shares)
}
