package windows

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/shardflow/shardflow/pipeline"
)

// memStore is a pipeline.SpillStore in a Go map, for the operator's tests;
// internal/pebblestate has the real one and runs these paths on it too.
type memStore struct {
	keys   map[string]struct{}
	closed bool
	max    int // most keys held at once
}

func (s *memStore) Add(keys [][]byte) error {
	for _, k := range keys {
		s.keys[string(k)] = struct{}{}
	}
	s.max = max(s.max, len(s.keys))
	return nil
}

func (s *memStore) Scan(prefix []byte, f func([]byte) error) error {
	for _, k := range slices.Sorted(maps.Keys(s.keys)) {
		if strings.HasPrefix(k, string(prefix)) {
			if err := f([]byte(k)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *memStore) DeletePrefix(prefix []byte) error {
	for k := range s.keys {
		if strings.HasPrefix(k, string(prefix)) {
			delete(s.keys, k)
		}
	}
	return nil
}

func (s *memStore) Close() error {
	s.closed = true
	s.keys = nil
	return nil
}

// memStores opens memStores and keeps them, for a test to look at.
type memStores struct{ opened []*memStore }

func (m *memStores) open(string) (pipeline.SpillStore, error) {
	s := &memStore{keys: map[string]struct{}{}}
	m.opened = append(m.opened, s)
	return s, nil
}

// manyUsersSteps is nWin one-second windows over 3 shards and 5 pages, each
// with about users distinct users (strings and integers) and repeats.
func manyUsersSteps(nWin, users int) []step {
	rng := newRand(7)
	shards := []string{"shard-a", "shard-b", "shard-c"}
	var steps []step
	for w := range int64(nWin) {
		for b := range 8 {
			for si, sh := range shards {
				rows := make([]row, 0, users/6)
				for range users / 6 {
					u := rng.Int64N(int64(users))
					ts := w*1000 + int64(b*100+si)
					p := fmt.Sprintf("/p%d", rng.IntN(5))
					if rng.IntN(50) == 0 {
						rows = append(rows, row{page: &p, event: "view", ts: &ts}) // null user
						continue
					}
					rows = append(rows, row{page: &p, user: ptr(fmt.Sprintf("user-%07d", u)), uid: ptr(u * 3), event: "view", ts: &ts})
				}
				steps = append(steps, step{shard: sh, rows: rows})
			}
		}
		steps = append(steps, step{wm: ptr(w*1000 + 1000)})
	}
	return clockSteps(steps)
}

func spillSpec() *Spec {
	return Tumbling(time.Second).Aggregate(Count("events"),
		CountDistinct("users", "user_id"), CountDistinct("uids", "uid"), Sum("qty", "qty"))
}

// newLimitedOp is newTestOp with a state limit and, if stores is not nil,
// spill stores.
func newLimitedOp(t testing.TB, mem memory.Allocator, limit int64, stores *memStores) *Operator {
	t.Helper()
	env := pipeline.OperatorEnv{Mem: mem, Bound: testBound, State: pipeline.StateConfig{Limit: limit}}
	if stores != nil {
		env.State.Spill = stores.open
	}
	op, err := bindTestStage(t, spillSpec(), []string{"page"})(env)
	if err != nil {
		t.Fatal(err)
	}
	return op.(*Operator)
}

// runUnder is runSteps that checks, after every batch, that op's state is
// within limit.
func runUnder(t *testing.T, mem memory.Allocator, op *Operator, steps []step, limit int64) []fired {
	t.Helper()
	var out []fired
	for _, s := range steps {
		out = append(out, runSteps(t, mem, op, []step{s})...)
		if got := op.stateBytes(); s.wm == nil && got > limit {
			t.Fatalf("state %d bytes after a batch, over the limit %d", got, limit)
		}
	}
	return out
}

// spillUsers distinct users a window against a limit of spillLimit bytes: the
// distinct sets need many times the limit (TestSpillExact checks 8 times).
const (
	spillUsers = 15_000
	spillLimit = 64 << 10
)

// With a limit far below what the distinct sets need and a spill store, the
// results are exactly those of the operator without a limit, the state stays
// under the limit after every batch, and closing removes the store.
func TestSpillExact(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	steps := manyUsersSteps(3, spillUsers)

	ref := newTestOp(t, mem, spillSpec(), []string{"page"})
	var peak int64
	var want []fired
	for _, s := range steps {
		want = append(want, runSteps(t, mem, ref, []step{s})...)
		peak = max(peak, ref.stateBytes())
	}
	if peak < 8*spillLimit {
		t.Fatalf("the state without a limit peaks at %d bytes: too small for the test", peak)
	}

	stores := &memStores{}
	op := newLimitedOp(t, mem, spillLimit, stores)
	got := runUnder(t, mem, op, steps, spillLimit)
	compareFired(t, got, want)
	if len(stores.opened) != 1 || stores.opened[0].max == 0 {
		t.Fatalf("stores opened: %d", len(stores.opened))
	}
	if c := op.Counters(); c["state_spills"] != 1 {
		t.Errorf("spills %d, want 1", c["state_spills"])
	}
	if n := len(stores.opened[0].keys); n != 0 {
		t.Errorf("%d keys left in the store after every window fired", n)
	}
	if err := op.Close(); err != nil || !stores.opened[0].closed {
		t.Errorf("close: %v, store closed %v", err, stores.opened[0].closed)
	}
}

// Without a spill store the limit fails the batch that crosses it with an
// error that says what the state holds, the limit and what to do; the
// snapshot taken before still restores into an operator with a higher limit,
// which ends with the results of one that never had a limit.
func TestStateLimitFails(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	steps := manyUsersSteps(2, spillUsers)
	ref := newTestOp(t, mem, spillSpec(), []string{"page"})
	want := runSteps(t, mem, ref, steps)

	op := newLimitedOp(t, mem, spillLimit, nil)
	ctx := context.Background()
	var state []byte
	var fails int
	var out []fired
	for i, s := range steps {
		if s.wm != nil {
			out = append(out, runSteps(t, mem, op, []step{s})...)
			continue
		}
		snap, err := op.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if err := op.Process(ctx, stepBatch(t, mem, s), nil); err != nil {
			if !errors.Is(err, ErrStateLimit) {
				t.Fatalf("error %v, want ErrStateLimit", err)
			}
			for _, part := range []string{op.p.name, fmt.Sprintf("limit of %.1f KiB", float64(spillLimit)/1024), "distinct values", "--state-limit", "--state-spill DIR", "checkpoint"} {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not say %q", err, part)
				}
			}
			// Restart from the state before the batch with a higher limit.
			fails++
			state = snap
			op = newLimitedOp(t, mem, 1<<40, nil)
			if err := op.Restore(state); err != nil {
				t.Fatal(err)
			}
			out = append(out, runSteps(t, mem, op, steps[i:i+1])...)
			continue
		}
	}
	if fails != 1 {
		t.Fatalf("%d failures, want 1", fails)
	}
	compareFired(t, out, want)
}

// A snapshot of an operator that spilled holds every value: it restores into
// an operator with or without a spill store, whole or by shard parts, and
// both end with the results of one that never spilled. The first snapshot's
// bytes do not depend on the spilling.
func TestSpillSnapshotRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	steps := manyUsersSteps(3, spillUsers)
	ref := newTestOp(t, mem, spillSpec(), []string{"page"})
	want := runSteps(t, mem, ref, steps)

	cut := len(steps) / 2
	for steps[cut].wm != nil {
		cut++
	}
	stores := &memStores{}
	op := newLimitedOp(t, mem, spillLimit, stores)
	got := runUnder(t, mem, op, steps[:cut], spillLimit)
	if op.st.spills == 0 {
		t.Fatal("did not spill before the cut")
	}
	state, err := op.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	common, shards, err := op.SnapshotShards()
	if err != nil {
		t.Fatal(err)
	}
	parts := map[string][][]byte{}
	for name, p := range shards {
		parts[name] = [][]byte{p}
	}

	refCut := newTestOp(t, mem, spillSpec(), []string{"page"})
	runSteps(t, mem, refCut, steps[:cut])
	refState, err := refCut.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if len(state) < len(refState)/2 {
		t.Errorf("snapshot of the spilled state %d bytes, without spilling %d: values missing", len(state), len(refState))
	}

	for _, tc := range []struct {
		name    string
		stores  *memStores
		restore func(*Operator) error
	}{
		{"whole, spilling", &memStores{}, func(o *Operator) error { return o.Restore(state) }},
		{"whole, in memory", nil, func(o *Operator) error { return o.Restore(state) }},
		{"by shard, spilling", &memStores{}, func(o *Operator) error { return o.RestoreShards([][]byte{common}, parts) }},
	} {
		limit := int64(spillLimit)
		if tc.stores == nil {
			limit = 1 << 40
		}
		r := newLimitedOp(t, mem, limit, tc.stores)
		if err := tc.restore(r); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		rest := runUnder(t, mem, r, steps[cut:], limit)
		compareFired(t, append(slices.Clone(got), rest...), want)
		if tc.stores != nil && r.st.spills == 0 {
			t.Errorf("%s: did not spill after restoring", tc.name)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// The first operator goes on as well.
	compareFired(t, append(got, runUnder(t, mem, op, steps[cut:], spillLimit)...), want)
	if err := op.Close(); err != nil {
		t.Fatal(err)
	}
}

// A store that fails makes the batch, or the firing, fail with its error.
func TestSpillStoreErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	boom := errors.New("disk full")
	env := pipeline.OperatorEnv{Mem: mem, Bound: testBound, State: pipeline.StateConfig{Limit: spillLimit,
		Spill: func(string) (pipeline.SpillStore, error) { return nil, boom }}}
	op, err := bindTestStage(t, spillSpec(), []string{"page"})(env)
	if err != nil {
		t.Fatal(err)
	}
	var failed error
	for _, s := range manyUsersSteps(1, spillUsers) {
		if s.wm == nil {
			if failed = op.Process(context.Background(), stepBatch(t, mem, s), nil); failed != nil {
				break
			}
		}
	}
	if !errors.Is(failed, boom) || !strings.Contains(failed.Error(), "open spill store") {
		t.Errorf("error %v, want the store's", failed)
	}
}
