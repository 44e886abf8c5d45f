package leases

import "sort"

// PlanLease is what the planner knows of one leasable lease.
type PlanLease struct {
	Key        string
	Owner      string  // "" when unowned
	Expired    bool    // its counter did not change for the expiry
	HandingOff bool    // a hand-off is in progress: not movable
	Throughput float64 // records/s; 0 when not measured
}

// PlanResult is what a worker does in one round.
type PlanResult struct {
	Take  []string // unowned or expired leases, to take at once
	Steal []string // leases of the most loaded workers, to move by hand-off
}

// Plan decides which leases me takes this round so that it reaches its fair
// share at once. leases are the leasable leases; workers are the live
// workers other than me (owners of unexpired leases). Load is measured
// throughput when every owned lease has one, else the number of leases.
// Expired and unowned leases come first; then leases move from the most
// loaded worker, one at a time and as many as needed in the same round, only
// while a move makes the two workers more even (so the plan never
// oscillates). maxSteal bounds the moves per round (<= 0: no bound).
func Plan(me string, leases []PlanLease, maxSteal int) PlanResult {
	byThroughput := true
	for _, l := range leases {
		if l.Throughput <= 0 {
			byThroughput = false
			break
		}
	}
	weight := func(l PlanLease) float64 {
		if byThroughput {
			return l.Throughput
		}
		return 1
	}
	load := map[string]float64{me: 0}
	owned := map[string][]PlanLease{}
	var free []PlanLease
	var total float64
	for _, l := range leases {
		total += weight(l)
		if l.Owner == "" || (l.Expired && l.Owner != me) {
			free = append(free, l)
			continue
		}
		load[l.Owner] += weight(l)
		owned[l.Owner] = append(owned[l.Owner], l)
	}
	target := total / float64(len(load))
	var res PlanResult
	// Free leases: the heaviest first, while below the fair share (at least
	// one when holding nothing).
	sort.Slice(free, func(i, j int) bool {
		if weight(free[i]) != weight(free[j]) {
			return weight(free[i]) > weight(free[j])
		}
		return free[i].Key < free[j].Key
	})
	for _, l := range free {
		if load[me] >= target && !(load[me] == 0) {
			break
		}
		if !byThroughput && load[me]+1 > ceil(target) {
			break
		}
		res.Take = append(res.Take, l.Key)
		load[me] += weight(l)
	}
	// Moves from the most loaded worker while they even the two out.
	for maxSteal <= 0 || len(res.Steal) < maxSteal {
		var from string
		for w, ld := range load {
			if w != me && (from == "" || ld > load[from] || (ld == load[from] && w < from)) {
				from = w
			}
		}
		if from == "" || load[me] >= target {
			break
		}
		best, bestGap := -1, load[from]-load[me] // the gap a move must shrink
		for i, l := range owned[from] {
			if l.HandingOff {
				continue
			}
			w := weight(l)
			gap := abs((load[from] - w) - (load[me] + w))
			if gap < bestGap || (gap == bestGap && best >= 0 && l.Key < owned[from][best].Key) {
				best, bestGap = i, gap
			}
		}
		if best < 0 {
			break
		}
		l := owned[from][best]
		owned[from] = append(owned[from][:best:best], owned[from][best+1:]...)
		res.Steal = append(res.Steal, l.Key)
		load[from] -= weight(l)
		load[me] += weight(l)
	}
	return res
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func ceil(x float64) float64 {
	n := float64(int64(x))
	if n < x {
		return n + 1
	}
	return n
}
