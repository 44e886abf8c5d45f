package windows

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/shardflow/shardflow/pipeline"
)

// TestLongRunStateStaysBounded runs many windows whose keys, distinct values
// and source shards all rotate (as in a long unbounded run across reshards);
// the dicts, shard states and slot columns must stay bounded by what the open
// windows use, not grow with everything ever seen.
func TestLongRunStateStaysBounded(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	spec := Tumbling(time.Second).Aggregate(Count("events"), CountDistinct("users", "user_id"), Sum("qty_sum", "qty"))
	op := newTestOp(t, mem, spec, []string{"page"})
	const floor = 256
	op.minCompact, op.compact = floor, floor

	const windows, keysPer = 3000, 40
	maxKeys, maxVals, maxShards, maxSlots := 0, 0, 0, 0
	for w := range int64(windows) {
		shard := fmt.Sprintf("shard-%d", w/10) // a reshard every 10 windows
		rows := make([]row, keysPer)
		for k := range rows {
			ts := w*1000 + int64(k)
			rows[k] = row{page: ptr(fmt.Sprintf("/p/%d/%d", w, k)), user: ptr(fmt.Sprintf("u-%d-%d", w, k)), event: "view", qty: ptr(int32(k)), ts: &ts}
		}
		runSteps(t, mem, op, []step{{shard: shard, rows: rows}, {wm: ptr(w*1000 + 1000)}})
		maxKeys = max(maxKeys, op.keys.len())
		maxVals = max(maxVals, op.vdicts[1].len())
		maxShards = max(maxShards, len(op.shards))
		for _, sh := range op.shards {
			maxSlots = max(maxSlots, int(sh.nslots))
		}
	}
	if c := op.Counters(); c["windows_fired"] != windows || c["open_windows"] != 0 {
		t.Fatalf("counters %v", c)
	}
	if maxKeys > 4*floor || maxVals > 4*floor {
		t.Errorf("dicts grew to %d keys and %d values over %d windows of %d keys; want at most %d", maxKeys, maxVals, windows, keysPer, 4*floor)
	}
	if maxShards > 2 {
		t.Errorf("%d shard states kept, want the states of shards without open windows freed", maxShards)
	}
	if maxSlots > 2*keysPer {
		t.Errorf("a shard holds %d slots, want at most %d", maxSlots, 2*keysPer)
	}
	// A snapshot of the idle operator holds no trace of the fired windows' shards.
	state, err := op.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if len(state) > 4096 {
		t.Errorf("snapshot of an operator without open windows is %d bytes", len(state))
	}
}

// TestSlidingNegativeTimesMatchReference covers sliding windows, with and
// without offset, around and before the epoch.
func TestSlidingNegativeTimesMatchReference(t *testing.T) {
	tests := []struct {
		name                string
		assigner            Assigner
		size, slide, offset int64
		base                int64
	}{
		{"sliding negative", Sliding(9*time.Second, 3*time.Second), 9000, 3000, 0, -61_000},
		{"sliding negative with offset", Sliding(8*time.Second, 2*time.Second).WithOffset(-700 * time.Millisecond), 8000, 2000, 1300, -45_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			steps := randomSteps(newRand(11), 60, tt.base)
			op := newTestOp(t, mem, Aggregate(tt.assigner, refAggs()...), []string{"page"})
			compareFired(t, runSteps(t, mem, op, steps), reference(steps, []string{"page"}, tt.size, tt.slide, tt.offset))
		})
	}
}

// TestNullEmptyAndSpecialFloats checks that a null key and an empty key are
// different groups, and that NaN, -0.0 and infinities aggregate the same
// with and without a snapshot in between.
func TestNullEmptyAndSpecialFloats(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	spec := Tumbling(10*time.Second).Aggregate(Count("n"), Sum("s", "price"), Min("lo", "price"), Max("hi", "price"))
	ts := func(v int64) *int64 { return &v }
	steps := []step{
		{shard: "b", rows: []row{
			{page: ptr(""), event: "v", price: ptr(math.NaN()), ts: ts(1)},
			{page: nil, event: "v", price: ptr(0.0), ts: ts(2)},
			{page: ptr(""), event: "v", price: ptr(math.Copysign(0, -1)), ts: ts(3)},
		}},
		{shard: "a", rows: []row{
			{page: nil, event: "v", price: ptr(math.Copysign(0, -1)), ts: ts(4)},
			{page: ptr("x"), event: "v", price: ptr(math.Inf(1)), ts: ts(5)},
			{page: ptr("x"), event: "v", price: ptr(math.Inf(-1)), ts: ts(6)},
			{page: ptr("y"), event: "v", price: ptr(math.NaN()), ts: ts(7)},
		}},
		{wm: ptr(pipeline.MaxTime)},
	}
	straight := runSteps(t, mem, newTestOp(t, mem, spec, []string{"page"}), steps)
	// Null sorts first and is not the empty string; min and max skip NaN and
	// keep the first of equal values (-0 of shard "a", merged before "b"); sums
	// follow IEEE 754.
	want := []string{
		"0|10000|null|2|0|-0|-0",
		"0|10000||2|NaN|-0|-0",
		"0|10000|x|2|NaN|-Inf|+Inf",
		"0|10000|y|1|NaN|null|null",
	}
	if !slices.Equal(straight[0].rows, want) {
		t.Errorf("got %q, want %q", straight[0].rows, want)
	}
	op := newTestOp(t, mem, spec, []string{"page"})
	var got []fired
	for i := range steps {
		got = append(got, runSteps(t, mem, op, steps[i:i+1])...)
		state, err := op.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		op = newTestOp(t, mem, spec, []string{"page"})
		if err := op.Restore(state); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(got[0].rows, straight[0].rows) {
		t.Errorf("after restores %q, want %q", got[0].rows, straight[0].rows)
	}
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }
