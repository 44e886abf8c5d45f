package metrics

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Leases records a lease coordinator's counts (sources/kinesis/leases) as
// Prometheus collectors, by worker: shardflow_leases_held, and the counters
// shardflow_leases_taken_total, _stolen_total, _lost_total and
// _handed_off_total. It implements leases.Metrics and is safe for concurrent
// use; one Leases serves every coordinator of a process.
type Leases struct {
	held                        *prometheus.GaugeVec
	taken, stolen, lost, handed *prometheus.CounterVec
}

// NewLeases creates the lease collectors of job and registers them into reg;
// on a registration error nothing stays registered.
func NewLeases(reg prometheus.Registerer, job string) (*Leases, error) {
	if reg == nil {
		return nil, errors.New("metrics: nil registerer")
	}
	if job == "" {
		return nil, errors.New("metrics: empty job name")
	}
	cl := prometheus.Labels{"job": job}
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help, ConstLabels: cl}, []string{"worker"})
	}
	l := &Leases{
		held: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "leases_held",
			Help: "Shard leases the worker holds after its last lease round.", ConstLabels: cl}, []string{"worker"}),
		taken:  counter("leases_taken_total", "Unowned or expired shard leases the worker took."),
		stolen: counter("leases_stolen_total", "Shard leases the worker asked a more loaded worker to hand off."),
		lost:   counter("leases_lost_total", "Shard leases the worker found taken by another worker (it stops reading them)."),
		handed: counter("leases_handed_off_total", "Shard leases the worker gave to another worker by graceful hand-off."),
	}
	cs := []prometheus.Collector{l.held, l.taken, l.stolen, l.lost, l.handed}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return nil, fmt.Errorf("metrics: register: %w", err)
		}
	}
	return l, nil
}

// Held sets leases_held of owner.
func (l *Leases) Held(owner string, n int) { l.held.WithLabelValues(owner).Set(float64(n)) }

// Taken counts a lease owner took.
func (l *Leases) Taken(owner, _ string) { l.taken.WithLabelValues(owner).Inc() }

// Stolen counts a hand-off owner requested.
func (l *Leases) Stolen(owner, _ string) { l.stolen.WithLabelValues(owner).Inc() }

// Lost counts a lease owner lost.
func (l *Leases) Lost(owner, _ string) { l.lost.WithLabelValues(owner).Inc() }

// HandedOff counts a lease owner handed off.
func (l *Leases) HandedOff(owner, _ string) { l.handed.WithLabelValues(owner).Inc() }
