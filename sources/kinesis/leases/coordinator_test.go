package leases

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/shardflow/shardflow/internal/testenv"
)

// rounds runs one round of each coordinator in order.
func rounds(t *testing.T, cs ...*Coordinator) {
	t.Helper()
	for _, c := range cs {
		if err := c.Round(context.Background()); err != nil {
			t.Fatalf("round of %s: %v", c.cfg.Owner, err)
		}
	}
}

func counts(cs ...*Coordinator) []int {
	var n []int
	for _, c := range cs {
		n = append(n, len(c.Held()))
	}
	return n
}

// checkExclusive fails t unless the coordinators' held sets are disjoint and
// agree with the table.
func checkExclusive(t *testing.T, srv *testenv.DynamoDBServer, table string, cs ...*Coordinator) {
	t.Helper()
	owners := ownersIn(t, srv, table)
	seen := map[string]string{}
	for _, c := range cs {
		for _, k := range heldKeys(c) {
			if o, dup := seen[k]; dup {
				t.Fatalf("%s held by %s and %s", k, o, c.cfg.Owner)
			}
			seen[k] = c.cfg.Owner
			if owners[k] != c.cfg.Owner {
				t.Fatalf("%s held by %s, table says %q", k, c.cfg.Owner, owners[k])
			}
		}
	}
}

func TestCoordinatorsShareExpireAndHandOff(t *testing.T) {
	srv := testenv.Dynalite(t)
	newTable(t, srv, "leases", 8)
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	m := newCounters()
	// Each old owner commits at the hand-off; the new owner must start there.
	var handOffs []string
	var cs [4]*Coordinator
	for i, name := range []string{"a", "b", "c", "d"} {
		i := i
		cs[i] = newCoord(t, srv, "leases", name, clock, m, func(ctx context.Context, l Lease) error {
			handOffs = append(handOffs, l.Key)
			return cs[i].Checkpoint(ctx, l.Key, "seq-"+l.Key, 7, []byte("state of "+l.Key))
		})
	}
	a, b, c, d := cs[0], cs[1], cs[2], cs[3]

	// Three workers share 8 leases: 3, 3, 2 in some order.
	balanced := func(ns []int, want []int) bool { s := slices.Clone(ns); slices.Sort(s); return slices.Equal(s, want) }
	for i := 0; !balanced(counts(a, b, c), []int{2, 3, 3}); i++ {
		if i == 5 {
			t.Fatalf("not balanced after %d passes: %v", i, counts(a, b, c))
		}
		rounds(t, a, b, c)
		checkExclusive(t, srv, "leases", a, b, c)
		clock.Advance(time.Second)
	}
	rounds(t, a, b, c) // stable: nothing moves any more
	if !balanced(counts(a, b, c), []int{2, 3, 3}) {
		t.Fatalf("not stable: %v", counts(a, b, c))
	}

	// c stops renewing; a and b take its leases once the expiry passed.
	cLeases := heldKeys(c)
	for i := 0; ; i++ {
		owners := ownersIn(t, srv, "leases")
		taken := true
		for _, k := range cLeases {
			taken = taken && (owners[k] == "a" || owners[k] == "b")
		}
		if taken && len(a.Held())+len(b.Held()) == 8 {
			break
		}
		if i == 6 {
			t.Fatalf("c's leases %v not taken after %d periods: %v", cLeases, i, owners)
		}
		if i < 2 && len(a.Held())+len(b.Held()) != 6 {
			t.Fatalf("c's leases taken before the expiry (pass %d): %v", i, counts(a, b))
		}
		clock.Advance(time.Second)
		rounds(t, a, b)
	}
	checkExclusive(t, srv, "leases", a, b)
	if !balanced(counts(a, b), []int{4, 4}) {
		t.Fatalf("after c's expiry: %v", counts(a, b))
	}

	// d joins: it asks, a and b commit and release, d adopts, all within one
	// period (the clock does not move).
	handOffs = nil
	rounds(t, d, a, b, d)
	checkExclusive(t, srv, "leases", a, b, d)
	if !balanced(counts(a, b, d), []int{2, 3, 3}) || len(d.Held()) != 2 {
		t.Fatalf("after d joined: a, b, d hold %v", counts(a, b, d))
	}
	got := heldKeys(d)
	slices.Sort(handOffs)
	if !slices.Equal(got, handOffs) {
		t.Fatalf("d holds %v, hand-offs were %v", got, handOffs)
	}
	for _, l := range d.Held() {
		if r := l.Resume(); r.Kind != StartAfter || r.Seq != "seq-"+l.Key || r.SubSequence != 7 || string(l.State) != "state of "+l.Key {
			t.Fatalf("d starts %s at %+v state %q, want after the old owner's commit", l.Key, r, l.State)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	sum := func(c map[string]int) (n int) {
		for _, v := range c {
			n += v
		}
		return n
	}
	// Every hand-off asked for completed; a and b took c's 2 or 3 expired leases.
	if m.stolen["d"] != 2 || sum(m.handed) != sum(m.stolen) || m.taken["a"]+m.taken["b"] != 8+len(cLeases) {
		t.Fatalf("metrics: taken %v stolen %v handed %v", m.taken, m.stolen, m.handed)
	}
}

func TestStaleWorkerCannotCheckpoint(t *testing.T) {
	srv := testenv.Dynalite(t)
	newTable(t, srv, "leases", 1)
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	m := newCounters()
	a := newCoord(t, srv, "leases", "a", clock, m, nil)
	b := newCoord(t, srv, "leases", "b", clock, m, nil)
	ctx := context.Background()
	rounds(t, a, b)
	if err := a.Checkpoint(ctx, "s00", "100", 0, []byte("a1")); err != nil {
		t.Fatal(err)
	}
	// a pauses past its expiry; b takes the lease.
	for i := 0; len(b.Held()) == 0; i++ {
		if i == 6 {
			t.Fatal("b did not take the expired lease")
		}
		clock.Advance(time.Second)
		rounds(t, b)
	}
	// a resumes and commits: refused, typed.
	err := a.Checkpoint(ctx, "s00", "200", 0, []byte("a2"))
	var ce *ConditionError
	if !errors.Is(err, ErrLeaseLost) || !errors.As(err, &ce) || ce.Key != "s00" {
		t.Fatalf("stale checkpoint: %v, want a *ConditionError matching ErrLeaseLost", err)
	}
	tb, _ := NewTable(newClient(t, srv), "leases")
	l, _, err := tb.Get(ctx, "s00")
	if err != nil {
		t.Fatal(err)
	}
	if l.Checkpoint != "100" || string(l.State) != "a1" || l.Owner != "b" {
		t.Fatalf("after the stale commit: %+v", l)
	}
	if err := b.Checkpoint(ctx, "s00", "200", 0, nil); err != nil {
		t.Fatalf("new owner's checkpoint: %v", err)
	}
	// State above the limit is refused before any write.
	if err := b.Checkpoint(ctx, "s00", "300", 0, make([]byte, MaxStateBytes+1)); !errors.Is(err, ErrStateTooLarge) {
		t.Fatalf("large state: %v", err)
	}
}

func TestChildAfterParentsEnd(t *testing.T) {
	srv := testenv.Dynalite(t)
	ctx := context.Background()
	tb, _ := NewTable(newClient(t, srv), "leases")
	if err := tb.Create(ctx); err != nil {
		t.Fatal(err)
	}
	for _, l := range []Lease{{Key: "p1"}, {Key: "p2"}, {Key: "child", Parents: []string{"p1", "p2"}}} {
		if _, err := tb.Put(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	a := newCoord(t, srv, "leases", "a", clock, nil, nil)
	rounds(t, a)
	if got := heldKeys(a); !slices.Equal(got, []string{"p1", "p2"}) {
		t.Fatalf("held %v, want the parents only", got)
	}
	if err := a.MarkShardEnd(ctx, "p1", []string{"child"}); err != nil {
		t.Fatal(err)
	}
	rounds(t, a)
	if slices.Contains(heldKeys(a), "child") {
		t.Fatal("child leased while p2 is not finished")
	}
	if err := a.MarkShardEnd(ctx, "p2", []string{"child"}); err != nil {
		t.Fatal(err)
	}
	rounds(t, a)
	if !slices.Contains(heldKeys(a), "child") {
		t.Fatalf("child not leased after both parents ended: %v", heldKeys(a))
	}
}
