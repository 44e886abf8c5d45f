package windows

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/pipeline"
)

func lateSpec() *Spec {
	return Tumbling(10*time.Second).Aggregate(Count("n"), Sum("price", "price")).AllowedLateness(20 * time.Second).RevisionEvery(10 * time.Second)
}

// feedLate runs one shard's rows, one batch each, through op with the
// watermark after each its own clock (bound 0); snapAt > 0 snapshots and
// restores into a fresh operator after that many rows. It returns the
// rows fired, in order.
func feedLate(t *testing.T, mem memory.Allocator, rows []row, snapAt int) []string {
	t.Helper()
	op := newBoundOp(t, mem, lateSpec(), []string{"page"}, 0)
	ctx := context.Background()
	var out []string
	emit := func(b *pipeline.Batch) { out = append(out, recordRows(b.Rec)...); b.Release() }
	hi := pipeline.MinTime
	for i, r := range rows {
		if i == snapAt && snapAt > 0 {
			state, err := op.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			op = newBoundOp(t, mem, lateSpec(), []string{"page"}, 0)
			if err := op.Restore(state); err != nil {
				t.Fatal(err)
			}
		}
		b := buildBatch(t, mem, "a", []row{r})
		b.Before = hi
		hi = max(hi, *r.ts)
		if err := op.Process(ctx, b, nil); err != nil {
			t.Fatal(err)
		}
		if err := op.OnWatermark(ctx, hi, emit); err != nil {
			t.Fatal(err)
		}
	}
	if err := op.OnWatermark(ctx, pipeline.MaxTime, emit); err != nil {
		t.Fatal(err)
	}
	if got := op.Counters()["late_rows"]; got != 1 {
		t.Errorf("late_rows %d, want 1", got)
	}
	return out
}

// A row late by less than the allowed lateness corrects its window: the
// keys it changed come again, whole, with the revision of its step; a row
// later than that is late.
func TestAllowedLatenessEmitsRevisions(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := func(page string, ts int64, price float64) row {
		return row{page: ptr(page), event: "view", price: ptr(price), ts: ptr(ts)}
	}
	rows := []row{
		r("/a", 1000, 1),
		r("/b", 15000, 2), // clock 15 s: window [0, 10 s) fires, revision 0
		r("/a", 2000, 4),  // 5 s late: step 1
		r("/c", 25000, 8), // clock 25 s: correction 1 of [0, 10 s) fires; [10 s, 20 s) revision 0
		r("/a", 3000, 16), // 15 s late: step 2
		r("/b", 4000, 32), // a new key in step 2
		r("/c", 40000, 64),
		r("/a", 5000, 128), // 35 s late: beyond the lateness
	}
	out := feedLate(t, mem, rows, 0)
	got := strings.Join(out, "\n")
	want := strings.Join([]string{
		"0|10000|/a|1|1|0",
		"0|10000|/a|2|5|1",
		"10000|20000|/b|1|2|0",
		"0|10000|/a|3|21|2",
		"0|10000|/b|1|32|2",
		"20000|30000|/c|1|8|0",
		"40000|50000|/c|1|64|0",
	}, "\n")
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	// A snapshot between revision 0 and the corrections restores them.
	for _, at := range []int{2, 3, 4, 5, 6, 7} {
		if again := feedLate(t, mem, rows, at); !slices.Equal(again, out) {
			t.Errorf("snapshot after %d rows: got\n%s\nwant\n%s", at, strings.Join(again, "\n"), got)
		}
	}
}

func TestRevisionSteps(t *testing.T) {
	op := &Operator{p: &plan{lateness: 30_000, revEvery: 10_000}}
	for _, c := range []struct {
		end, clock int64
		want       int32
	}{{10_000, 10_000, 1}, {10_000, 19_999, 1}, {10_000, 20_000, 2}, {10_000, 39_999, 3}} {
		if got := op.stepOf(c.end, c.clock); got != c.want {
			t.Errorf("stepOf(%d, %d) = %d, want %d", c.end, c.clock, got, c.want)
		}
	}
}

func TestAllowedLatenessErrors(t *testing.T) {
	for _, c := range []struct {
		spec *Spec
		keys []string
		want string
	}{
		{Tumbling(time.Second).Aggregate(Count("n")).AllowedLateness(10 * time.Second).RevisionEvery(3 * time.Second), nil, "do not divide"},
		{Tumbling(time.Second).Aggregate(Count("n")).AllowedLateness(-time.Second), nil, "allowed lateness"},
		{Tumbling(time.Second).Aggregate(Count("n")).RevisionEvery(time.Second), nil, "without AllowedLateness"},
		{Tumbling(time.Second).Aggregate(Count(ColRevision)).AllowedLateness(time.Second), nil, "revision column"},
		{Tumbling(time.Second).Aggregate(Count("n")).AllowedLateness(time.Second), []string{ColRevision}, "revision column"},
	} {
		if _, err := c.spec.KeyedStage(c.keys, "ts"); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error with %q", c.spec, err, c.want)
		}
	}
}

// feedLateShards is feedShards of lateSpec with the bound of the tests.
func feedLateShards(t *testing.T, rows map[string][]row, order []string) ([]string, int64) {
	t.Helper()
	return feedLateShardsCut(t, rows, order, -1)
}

// feedLateShardsCut is feedLateShards that, with cut >= 0, takes the
// operator's state shard by shard (SnapshotShards) after cut steps of
// order and goes on with a fresh operator restored from the parts.
func feedLateShardsCut(t *testing.T, rows map[string][]row, order []string, cut int) ([]string, int64) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	op := newTestOp(t, mem, lateSpec(), []string{"page"})
	ctx := context.Background()
	hi := map[string]int64{"a": pipeline.MinTime, "b": pipeline.MinTime}
	next := map[string]int{}
	var out []string
	emit := func(b *pipeline.Batch) { out = append(out, recordRows(b.Rec)...); b.Release() }
	for i, o := range order {
		if i == cut {
			common, parts, err := op.SnapshotShards()
			if err != nil {
				t.Fatal(err)
			}
			if len(parts) == 0 {
				t.Fatalf("no shard state after %d steps", cut)
			}
			all := map[string][][]byte{}
			for name, part := range parts {
				if name != "a" && name != "b" {
					t.Fatalf("a part named %q", name)
				}
				all[name] = [][]byte{part}
			}
			op = newTestOp(t, mem, lateSpec(), []string{"page"})
			if err := op.RestoreShards([][]byte{common}, all); err != nil {
				t.Fatal(err)
			}
		}
		sh := o[:1]
		var n int
		fmt.Sscan(o[1:], &n)
		part := rows[sh][next[sh]:min(next[sh]+n, len(rows[sh]))]
		next[sh] += len(part)
		b := buildBatch(t, mem, sh, part)
		b.Before = hi[sh]
		for _, r := range part {
			hi[sh] = max(hi[sh], *r.ts)
		}
		if err := op.Process(ctx, b, nil); err != nil {
			t.Fatal(err)
		}
		if err := op.OnWatermark(ctx, subSat(min(hi["a"], hi["b"]), testBound), emit); err != nil {
			t.Fatal(err)
		}
	}
	if err := op.OnWatermark(ctx, pipeline.MaxTime, emit); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out, op.Counters()["late_rows"]
}

// The rows of every revision of a bounded input do not depend on how the
// shards' reads interleave or how they are cut into batches.
func TestRevisionsDoNotDependOnTheShardsPace(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	rows := map[string][]row{}
	for _, sh := range []string{"a", "b"} {
		ts := int64(1_700_000_000_000)
		for i := range 300 {
			ts += rng.Int64N(400)
			at := ts - rng.Int64N(3000)
			if rng.IntN(10) == 0 {
				at = ts - rng.Int64N(40_000) // late, within the lateness or not
			}
			rows[sh] = append(rows[sh], row{page: ptr(fmt.Sprint("/p/", rng.IntN(5))), event: "view", price: ptr(float64(i)), ts: ptr(at)})
		}
	}
	var first []string
	var firstLate int64
	for i, o := range orders(rng, len(rows["a"]), len(rows["b"])) {
		out, late := feedLateShards(t, rows, o)
		if i == 0 {
			first, firstLate = out, late
			revised := 0
			for _, r := range out {
				if !strings.HasSuffix(r, "|0") {
					revised++
				}
			}
			if late == 0 || revised == 0 {
				t.Fatalf("%d late rows and %d revised rows: the test wants both", late, revised)
			}
			continue
		}
		if late != firstLate || !slices.Equal(out, first) {
			t.Errorf("order %v: %d late rows and %d rows out, want %d and the same %d rows", o, late, len(out), firstLate, len(first))
		}
		// The state taken shard by shard mid-way restores every revision.
		cut := len(o) / 2
		if out, late := feedLateShardsCut(t, rows, o, cut); late != firstLate || !slices.Equal(out, first) {
			t.Errorf("order %v, restored by shard after %d steps: %d late rows and %d rows out, want %d and the same %d rows", o, cut, late, len(out), firstLate, len(first))
		}
	}
}

// With LateRows, a row later than the allowed lateness goes to LateSide
// whole, and a row within it revises its window instead.
func TestAllowedLatenessLateRowsToSide(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	spec := lateSpec().LateRows()
	op := newBoundOp(t, mem, spec, []string{"page"}, 0)
	r := func(page string, ts int64, price float64) row {
		return row{page: ptr(page), event: "view", price: ptr(price), ts: ptr(ts)}
	}
	rows := []row{
		r("/a", 1000, 1),
		r("/b", 15000, 2),  // clock 15 s: [0, 10 s) fires, revision 0
		r("/a", 2000, 4),   // 5 s late: step 1 of [0, 10 s)
		r("/c", 35000, 8),  // clock 35 s: correction 1 of [0, 10 s); [10 s, 20 s) revision 0; [0, 10 s) dropped
		r("/a", 4000, 16),  // 31 s late: beyond the lateness, to the side
		r("/b", 12000, 32), // 15 s late: step 2 of [10 s, 20 s)
		r("/d", 45000, 64), // clock 45 s: correction 2 of [10 s, 20 s); [30 s, 40 s) revision 0
	}
	ctx := context.Background()
	var out []string
	var side []string
	emit := func(b *pipeline.Batch) {
		defer b.Release()
		if b.Side == LateSide {
			for i := range int(b.Rec.NumRows()) {
				side = append(side, fmt.Sprintf("%s@%s", b.Rec.Column(0).ValueStr(i), cell(b.Rec.Column(8), i)))
			}
			return
		}
		if b.Side != "" {
			t.Errorf("batch on side %q", b.Side)
		}
		out = append(out, recordRows(b.Rec)...)
	}
	hi := pipeline.MinTime
	for _, x := range rows {
		b := buildBatch(t, mem, "a", []row{x})
		b.Before = hi
		hi = max(hi, *x.ts)
		if err := op.Process(ctx, b, emit); err != nil {
			t.Fatal(err)
		}
		if err := op.OnWatermark(ctx, hi, emit); err != nil {
			t.Fatal(err)
		}
	}
	if err := op.OnWatermark(ctx, pipeline.MaxTime, emit); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"0|10000|/a|1|1|0",
		"0|10000|/a|2|5|1",
		"10000|20000|/b|1|2|0",
		"10000|20000|/b|2|34|2",
		"30000|40000|/c|1|8|0",
		"40000|50000|/d|1|64|0",
	}
	if !slices.Equal(out, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(out, "\n"), strings.Join(want, "\n"))
	}
	if want := []string{"/a@4000"}; !slices.Equal(side, want) {
		t.Errorf("late side %q, want %q", side, want)
	}
	if got := op.Counters()["late_rows"]; got != 1 {
		t.Errorf("late_rows %d, want 1", got)
	}
}

// Sliding windows on panes refuse AllowedLateness when the stage binds;
// a sliding window of one window per row is a tumbling one and allows it.
func TestAllowedLatenessSlidingPanes(t *testing.T) {
	spec := Sliding(time.Minute, 10*time.Second).Aggregate(Count("n")).AllowedLateness(time.Minute)
	st, err := spec.KeyedStage([]string{"page"}, "ts")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = st.Bind(testSchema)
	if err == nil || !errors.Is(err, errPanesLateness) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("bind: %v, want one line with %v", err, errPanesLateness)
	}
	one := Sliding(10*time.Second, 10*time.Second).Aggregate(Count("n")).AllowedLateness(time.Minute)
	if st, err = one.KeyedStage([]string{"page"}, "ts"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Bind(testSchema); err != nil {
		t.Errorf("one window per row: %v", err)
	}
}
