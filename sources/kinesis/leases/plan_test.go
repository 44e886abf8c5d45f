package leases

import (
	"fmt"
	"slices"
	"testing"
)

func owned(owner string, n int, first int) []PlanLease {
	var out []PlanLease
	for i := range n {
		out = append(out, PlanLease{Key: fmt.Sprintf("s%02d", first+i), Owner: owner})
	}
	return out
}

func TestPlan(t *testing.T) {
	cat := func(ls ...[]PlanLease) []PlanLease { return slices.Concat(ls...) }
	tests := []struct {
		name        string
		leases      []PlanLease
		max         int
		take, steal []string
	}{
		{name: "first worker takes every unowned lease", leases: owned("", 3, 0), take: []string{"s00", "s01", "s02"}},
		{name: "second worker steals half at once", leases: owned("a", 8, 0), steal: []string{"s00", "s01", "s02", "s03"}},
		{name: "fourth worker steals one from each of the two loaded",
			leases: cat(owned("a", 3, 0), owned("b", 3, 3), owned("c", 2, 6)), steal: []string{"s00", "s03"}},
		{name: "balanced: nothing", leases: cat(owned("a", 3, 0), owned("b", 3, 3), owned("me", 2, 6))},
		{name: "maxSteal bounds the moves", leases: owned("a", 8, 0), max: 2, steal: []string{"s00", "s01"}},
		{name: "expired before stealing, up to the fair share",
			leases: cat(owned("a", 4, 0), []PlanLease{{Key: "x1", Owner: "dead", Expired: true}, {Key: "x2", Owner: "dead", Expired: true}, {Key: "x3", Owner: "dead", Expired: true}, {Key: "x4", Owner: "dead", Expired: true}}),
			take:   []string{"x1", "x2", "x3", "x4"}},
		{name: "expired beyond the fair share left to others",
			leases: cat(owned("a", 1, 0), owned("b", 1, 2), []PlanLease{{Key: "x1", Owner: "dead", Expired: true}, {Key: "x2", Owner: "dead", Expired: true}, {Key: "x3", Owner: "dead", Expired: true}, {Key: "x4", Owner: "dead", Expired: true}}),
			take:   []string{"x1", "x2"}},
		{name: "leases in hand-off do not move", leases: []PlanLease{{Key: "s0", Owner: "a", HandingOff: true}, {Key: "s1", Owner: "a", HandingOff: true}}},
		{name: "throughput: one hot lease balances three cold ones",
			leases: []PlanLease{{Key: "hot", Owner: "a", Throughput: 300}, {Key: "c1", Owner: "a", Throughput: 100}, {Key: "c2", Owner: "a", Throughput: 100}, {Key: "c3", Owner: "a", Throughput: 100}},
			steal:  []string{"hot"}},
		{name: "throughput: no move that does not even out",
			leases: []PlanLease{{Key: "hot", Owner: "a", Throughput: 1000}, {Key: "c1", Owner: "me", Throughput: 10}}},
		{name: "count when a throughput is missing",
			leases: []PlanLease{{Key: "hot", Owner: "a", Throughput: 300}, {Key: "c1", Owner: "a"}, {Key: "c2", Owner: "a"}, {Key: "c3", Owner: "a"}},
			steal:  []string{"c1", "c2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Plan("me", tt.leases, tt.max)
			if !slices.Equal(got.Take, tt.take) || !slices.Equal(got.Steal, tt.steal) {
				t.Fatalf("Plan = take %v steal %v, want take %v steal %v", got.Take, got.Steal, tt.take, tt.steal)
			}
		})
	}
}
