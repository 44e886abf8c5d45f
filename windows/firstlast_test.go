package windows

import (
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/pipeline"
)

func firstLastSpec() *Spec {
	return Tumbling(time.Second).Aggregate(
		First("first_qty", "qty"), Last("last_qty", "qty"),
		First("first_price", "price"), Last("last_big", "big"),
		Count("events"))
}

// flRows: page /a in window [1000, 2000) with ties at the earliest (1100)
// and the latest (1900) event time, out of time order, and nulls.
func flRows() []row {
	q := func(v int32) *int32 { return ptr(v) }
	return []row{
		{page: ptr("/a"), qty: q(5), price: ptr(5.5), big: ptr(uint64(50)), ts: ptr(int64(1500))},
		{page: ptr("/a"), qty: q(1), price: ptr(1.5), big: ptr(uint64(10)), ts: ptr(int64(1100))},
		{page: ptr("/a"), qty: q(2), price: ptr(2.5), big: ptr(uint64(20)), ts: ptr(int64(1100))}, // tie: arrived later
		{page: ptr("/a"), qty: q(9), price: nil, big: ptr(uint64(90)), ts: ptr(int64(1900))},
		{page: ptr("/a"), qty: q(8), price: ptr(8.5), big: ptr(uint64(80)), ts: ptr(int64(1900))}, // tie: arrived later
		{page: ptr("/a"), qty: nil, price: ptr(0.5), big: nil, ts: ptr(int64(1000))},
		{page: ptr("/b"), qty: nil, price: nil, big: nil, ts: ptr(int64(1200))},
		{page: ptr("/b"), qty: q(3), price: ptr(3.5), big: ptr(uint64(30)), ts: ptr(int64(2500))},
	}
}

// Golden output of First and Last, ties by arrival within a shard.
func TestFirstLastGolden(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	op := newTestOp(t, mem, firstLastSpec(), []string{"page"})
	got := runSteps(t, mem, op, []step{{shard: "s0", rows: flRows()}, {wm: ptr(int64(10_000))}})
	want := []string{
		"1000|2000|/a|1|8|0.5|80|6",
		"1000|2000|/b|null|null|null|null|1",
		"2000|3000|/b|3|3|3.5|30|1",
	}
	if !slices.Equal(got[0].rows, want) {
		t.Errorf("got\n%q\nwant\n%q", got[0].rows, want)
	}
}

// Split across shards: equal times across shards go to the shard whose name
// sorts first (First) or last (Last); distinct times give the one-shard
// result whatever the split.
func TestFirstLastMergeAndRestore(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rs := flRows()
	// Ties between shards: s0 holds the first 1100 row, s1 the second; s0
	// the first 1900 row, s1 the second.
	steps := []step{
		{shard: "s1", rows: []row{rs[2], rs[4], rs[6]}},
		{shard: "s0", rows: []row{rs[0], rs[1], rs[3], rs[5], rs[7]}},
	}
	one := newTestOp(t, mem, firstLastSpec(), []string{"page"})
	want := runSteps(t, mem, one, []step{{shard: "s0", rows: rs}, {wm: ptr(int64(10_000))}})[0].rows

	op := newTestOp(t, mem, firstLastSpec(), []string{"page"})
	runSteps(t, mem, op, steps)
	state, err := op.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	got := runSteps(t, mem, op, []step{{wm: ptr(int64(10_000))}})[0].rows
	if !slices.Equal(got, want) {
		t.Errorf("two shards\n got %q\nwant %q", got, want)
	}
	re := newTestOp(t, mem, firstLastSpec(), []string{"page"})
	if err := re.Restore(state); err != nil {
		t.Fatal(err)
	}
	if state[4] != snapVersionV2 {
		t.Errorf("snapshot version %d, want %d", state[4], snapVersionV2)
	}
	again := runSteps(t, mem, re, []step{{wm: ptr(int64(10_000))}})[0].rows
	if !slices.Equal(again, want) {
		t.Errorf("after restore\n got %q\nwant %q", again, want)
	}
}

func TestFirstLastRejectsStrings(t *testing.T) {
	st, err := Tumbling(time.Second).Aggregate(First("f", "page")).KeyedStage(nil, "ts")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Bind(testSchema); err == nil {
		t.Error("First over a string column bound without error")
	}
}

// First and Last of a column narrower than 64 bits read only its own
// buffer (a reader of int64 values over an int32 column read past it and
// panicked once a batch had more than a few rows).
func TestFirstLastOfNarrowIntegers(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	op := newTestOp(t, mem, Tumbling(time.Minute).Aggregate(First("first_qty", "qty"), Last("last_qty", "qty")), nil)
	var rows []row
	for i := range 200 {
		rows = append(rows, row{event: "view", qty: ptr(int32(i - 100)), ts: ptr(int64(i) * 100)})
	}
	got := runSteps(t, mem, op, []step{{shard: "s", rows: rows}, {wm: ptr(pipeline.MaxTime)}})
	if len(got) != 1 || len(got[0].rows) != 1 || got[0].rows[0] != "0|60000|-100|99" {
		t.Fatalf("first and last qty %v, want one window 0|60000|-100|99", got)
	}
}
