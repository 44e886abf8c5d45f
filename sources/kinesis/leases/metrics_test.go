package leases

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/metrics"
)

var _ Metrics = (*metrics.Leases)(nil)

// The Prometheus lease metrics count what two coordinators do on a real
// table: both take their share, one pauses past its expiry, the other takes
// its leases, and the paused one finds them lost when it commits.
func TestPrometheusLeaseMetrics(t *testing.T) {
	srv := testenv.Dynalite(t)
	newTable(t, srv, "leases", 4)
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	reg := prometheus.NewPedanticRegistry()
	m, err := metrics.NewLeases(reg, "clickstream")
	if err != nil {
		t.Fatal(err)
	}
	a := newCoord(t, srv, "leases", "a", clock, m, nil)
	b := newCoord(t, srv, "leases", "b", clock, m, nil)
	gather := func(name, worker string) float64 {
		t.Helper()
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range families {
			if f.GetName() != name {
				continue
			}
			for _, s := range f.GetMetric() {
				for _, lp := range s.GetLabel() {
					if lp.GetName() == "worker" && lp.GetValue() == worker {
						if g := s.GetGauge(); g != nil {
							return g.GetValue()
						}
						return s.GetCounter().GetValue()
					}
				}
			}
		}
		return 0
	}

	rounds(t, a, b)
	rounds(t, a, b)
	if ha, hb := gather("shardflow_leases_held", "a"), gather("shardflow_leases_held", "b"); ha+hb != 4 || ha != float64(len(a.Held())) {
		t.Fatalf("leases_held: a %v b %v, coordinators hold %d and %d", ha, hb, len(a.Held()), len(b.Held()))
	}
	aHeld := len(a.Held())
	if aHeld == 0 {
		t.Fatal("a took no lease")
	}
	for i := 0; len(b.Held()) < 4; i++ {
		if i == 6 {
			t.Fatal("b did not take a's expired leases")
		}
		clock.Advance(time.Second)
		rounds(t, b)
	}
	if got := gather("shardflow_leases_taken_total", "b") + gather("shardflow_leases_taken_total", "a"); got != float64(4+aHeld) {
		t.Fatalf("leases_taken_total: %v, want %d", got, 4+aHeld)
	}
	key := a.Held()[0].Key
	if err := a.Checkpoint(context.Background(), key, "100", 0, nil); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("stale checkpoint: %v", err)
	}
	if got := gather("shardflow_leases_lost_total", "a"); got != 1 {
		t.Fatalf("leases_lost_total of a: %v, want 1", got)
	}
	if got := gather("shardflow_leases_held", "b"); got != 4 {
		t.Fatalf("leases_held of b: %v, want 4", got)
	}
}
