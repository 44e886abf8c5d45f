package windows

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/shardflow/shardflow/pipeline"
)

// The flag has its own name so that it cannot clash with another file's
// -update.
var updateUDAF = flag.Bool("update-udaf", false, "rewrite testdata/udaf-*")

// udafAggs are the sketch aggregations over every column kind they read.
func udafAggs() []Agg {
	return []Agg{
		Count("events"),
		ApproxCountDistinct("users", "user_id"),
		ApproxCountDistinct("uids", "uid"),
		Quantile("price_p50", "price", 0.5),
		Quantile("qty_p90", "qty", 0.9),
		TopK("top_users", "user_id", 3),
		TopK("top_uids", "uid", 2),
		CountDistinct("users_exact", "user_id"),
	}
}

func udafSpec() *Spec { return Tumbling(10 * time.Second).Aggregate(udafAggs()...) }

// udafSteps is like randomSteps, with values of every kind and nulls, but
// its event times rise from batch to batch across all shards and its
// watermarks trail them by 15 s, so that no row is late however the rows
// are spread over shards, and however lateness is judged.
func udafSteps(rng *rand.Rand, nBatches int) []step {
	shards := []string{"shard-b", "shard-a", "shard-d", "shard-c"}
	events := []string{"view", "click", "purchase", "scroll"}
	ts := int64(1_700_000_000_000)
	var steps []step
	for i := range nBatches {
		rows := make([]row, 1+rng.IntN(150))
		for j := range rows {
			ts += rng.Int64N(120)
			r := row{event: events[rng.IntN(len(events))], ts: ptr(ts)}
			if rng.IntN(12) > 0 {
				r.page = ptr(fmt.Sprintf("/p/%d", rng.IntN(40)))
			}
			if rng.IntN(10) > 0 {
				r.user = ptr(fmt.Sprintf("user-%d", rng.IntN(300)))
			}
			if rng.IntN(10) > 0 {
				r.uid = ptr(rng.Int64N(200) - 100)
			}
			if rng.IntN(5) > 0 {
				r.price = ptr(float64(rng.IntN(4000)) / 4)
			}
			if rng.IntN(6) > 0 {
				r.qty = ptr(int32(rng.IntN(21) - 10))
			}
			if rng.IntN(8) > 0 {
				r.flag = ptr(rng.IntN(2) == 1)
			}
			rows[j] = r
		}
		steps = append(steps, step{shard: shards[rng.IntN(len(shards))], rows: rows})
		if i%4 == 3 {
			steps = append(steps, step{wm: ptr(ts - 15_000)})
		}
	}
	return append(steps, step{wm: ptr[int64](pipeline.MaxTime)})
}

// golden compares got with testdata/name, or rewrites it with -update-udaf.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := "testdata/" + name
	if *updateUDAF {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (%d bytes, want %d); rerun with -update-udaf if the change is intended\n got: %.2000s", path, len(got), len(want), got)
	}
}

func firedText(fs []fired) []byte {
	var b strings.Builder
	for i, f := range fs {
		b.WriteString("# watermark " + strconv.Itoa(i) + "\n")
		for _, r := range f.rows {
			b.WriteString(r + "\n")
		}
	}
	return []byte(b.String())
}

// TestUDAFSmall checks each sketch on a hand-made input, where the results
// are known.
func TestUDAFSmall(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	spec := Tumbling(10*time.Second).Aggregate(
		ApproxCountDistinct("users", "user_id"),
		ApproxCountDistinct("uids", "uid"),
		Quantile("p0", "price", 0),
		Quantile("p50", "price", 0.5),
		Quantile("p100", "price", 1),
		TopK("top", "user_id", 2),
		TopK("top_uid", "uid", 5),
	)
	r := func(page, user string, uid int64, price float64, ts int64) row {
		rw := row{page: ptr(page), event: "v", ts: ptr(ts)}
		if user != "" {
			rw.user = ptr(user)
		}
		if uid != 0 {
			rw.uid = ptr(uid)
		}
		if !math.IsNaN(price) {
			rw.price = ptr(price)
		}
		return rw
	}
	nan := math.NaN()
	steps := []step{
		{shard: "b", rows: []row{
			r("/a", "u1", 7, 1, 1), r("/a", "u2", 7, 2, 2), r("/a", "u1", -3, 3, 3),
			r("/b", "", 0, nan, 4), // only nulls
		}},
		{shard: "a", rows: []row{
			r("/a", "u3", 7, 4, 5), r("/a", "u1", 9, 100, 6), r("/a", "u\"x\"", 0, math.Inf(1), 7),
		}},
		{wm: ptr[int64](10_000)},
	}
	got := runSteps(t, mem, newTestOp(t, mem, spec, []string{"page"}), steps)
	if len(got) != 1 || len(got[0].rows) != 2 {
		t.Fatalf("got %v", got)
	}
	a := strings.Split(got[0].rows[0], "|")
	// window_start, window_end, page, users, uids, p0, p50, p100, top, top_uid
	if a[3] != "4" || a[4] != "3" {
		t.Errorf("distinct users %s, uids %s; want 4 and 3", a[3], a[4])
	}
	// Values 1, 2, 3, 4, 100 (+Inf skipped): within 1%.
	for i, want := range []float64{1, 3, 100} {
		v, err := strconv.ParseFloat(a[5+i], 64)
		if err != nil || math.Abs(v-want) > 0.01*want {
			t.Errorf("quantile %d: %s, want %g within 1%%", i, a[5+i], want)
		}
	}
	if want := `[{"value":"u1","count":3,"error":0},{"value":"u\"x\"","count":1,"error":0}]`; a[8] != want {
		t.Errorf("top users %s, want %s", a[8], want)
	}
	if want := `[{"value":7,"count":3,"error":0},{"value":-3,"count":1,"error":0},{"value":9,"count":1,"error":0}]`; a[9] != want {
		t.Errorf("top uids %s, want %s", a[9], want)
	}
	if want := "0|10000|/b|0|0|null|null|null|[]|[]"; got[0].rows[1] != want {
		t.Errorf("group of nulls %s, want %s", got[0].rows[1], want)
	}
}

// TestUDAFGolden pins the results of the sketches on a fixed random input
// (testdata/udaf-results.golden), so that a change of library or encoding
// that changes them shows.
func TestUDAFGolden(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	steps := udafSteps(newRand(21), 8)
	got := runSteps(t, mem, newTestOp(t, mem, udafSpec(), []string{"page"}), steps)
	golden(t, "udaf-results.golden", firedText(got))
}

// TestUDAFShardsMergeLikeOneShard: rows spread over several shards give what
// the same rows give from one shard, for every sketch (the inputs are small
// enough that no sketch is approximate, so merging is exact).
func TestUDAFShardsMergeLikeOneShard(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	steps := udafSteps(newRand(5), 60)
	one := slices.Clone(steps)
	for i := range one {
		if one[i].wm == nil {
			one[i].shard = "only"
		}
	}
	spread := runSteps(t, mem, newTestOp(t, mem, udafSpec(), []string{"page"}), steps)
	single := runSteps(t, mem, newTestOp(t, mem, udafSpec(), []string{"page"}), one)
	compareFired(t, spread, single)
	shards := map[string]bool{}
	for _, s := range steps {
		shards[s.shard] = true
	}
	if len(shards) < 3 {
		t.Fatalf("input of %d shards", len(shards))
	}
}

// TestUDAFSnapshotRoundTrip snapshots and restores after every step, in the
// middle of open windows, whole and per shard; the results are those of a
// run without. (A restored state need not snapshot to the same bytes: sets
// come back in another order, as CountDistinct's do.)
func TestUDAFSnapshotRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	steps := udafSteps(newRand(9), 40)
	keys := []string{"page"}
	want := runSteps(t, mem, newTestOp(t, mem, udafSpec(), keys), steps)
	for _, perShard := range []bool{false, true} {
		op := newTestOp(t, mem, udafSpec(), keys)
		var got []fired
		for i := range steps {
			got = append(got, runSteps(t, mem, op, steps[i:i+1])...)
			next := newTestOp(t, mem, udafSpec(), keys)
			if perShard {
				common, parts, err := op.SnapshotShards()
				if err != nil {
					t.Fatal(err)
				}
				byShard := map[string][][]byte{}
				for name, p := range parts {
					byShard[name] = [][]byte{p}
				}
				if err := next.RestoreShards([][]byte{common}, byShard); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
			} else {
				state, err := op.Snapshot()
				if err != nil {
					t.Fatal(err)
				}
				if err := next.Restore(state); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
			}
			op = next
		}
		compareFired(t, got, want)
	}
}

// TestUDAFSnapshotGolden: a snapshot with the sketches' states
// (testdata/snapshot-udaf-v2.bin, the same format version as before them)
// is byte for byte what this code writes, and it restores and carries on
// as if never interrupted.
func TestUDAFSnapshotGolden(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	steps := udafSteps(newRand(13), 10)
	keys := []string{"page", "flag"}
	want := runSteps(t, mem, newTestOp(t, mem, udafSpec(), keys), steps)
	op := newTestOp(t, mem, udafSpec(), keys)
	cut := len(steps) - 1
	runSteps(t, mem, op, steps[:cut])
	if op.Counters()["open_windows"] == 0 {
		t.Fatal("no open windows to snapshot")
	}
	state, err := op.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if state[4] != snapVersionV2 {
		t.Fatalf("version %d", state[4])
	}
	golden(t, "snapshot-udaf-v2.bin", state)
	old, err := os.ReadFile("testdata/snapshot-udaf-v2.bin")
	if err != nil {
		t.Fatal(err)
	}
	restored := newTestOp(t, mem, udafSpec(), keys)
	if err := restored.Restore(old); err != nil {
		t.Fatal(err)
	}
	got := runSteps(t, mem, restored, steps[cut:])
	if !slices.Equal(got[len(got)-1].rows, want[len(want)-1].rows) {
		t.Errorf("after restore\n got %q\nwant %q", got[len(got)-1].rows, want[len(want)-1].rows)
	}
}

// TestUDAFRestoreErrors: truncated and corrupt custom states fail to
// restore, and a snapshot does not restore into a stage whose sketches are
// configured otherwise.
func TestUDAFRestoreErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	keys := []string{"page"}
	op := newTestOp(t, mem, udafSpec(), keys)
	steps := udafSteps(newRand(4), 6)
	runSteps(t, mem, op, steps[:len(steps)-1]) // windows stay open
	state, err := op.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(state); n += 61 {
		if err := newTestOp(t, mem, udafSpec(), keys).Restore(state[:n]); err == nil {
			t.Fatalf("restoring %d of %d bytes succeeded", n, len(state))
		}
	}
	// Sealed with a valid checksum, so that the states' decoders see it.
	for i := 5; i < len(state)-4; i += 37 {
		body := slices.Clone(state[:len(state)-4])
		body[i] ^= 0x5a
		_ = newTestOp(t, mem, udafSpec(), keys).Restore(binaryAppendCRC(body)) // must not panic
	}
	other := Tumbling(10 * time.Second).Aggregate(append(udafAggs()[:5], TopK("top_users", "user_id", 4), TopK("top_uids", "uid", 2), CountDistinct("users_exact", "user_id"))...)
	if err := newTestOp(t, mem, other, keys).Restore(state); err == nil || !strings.Contains(err.Error(), "cannot restore stage") {
		t.Errorf("stage with another k: %v", err)
	}
	runSteps(t, mem, op, []step{{wm: ptr[int64](pipeline.MaxTime)}})
}

func TestUDAFBindErrors(t *testing.T) {
	for _, tt := range []struct {
		agg  Agg
		want string
	}{
		{Custom("x", "price", nil), `custom("x"): nil AggFunc`},
		{Custom("x", "", hllFunc{}), "empty column name"},
		{ApproxCountDistinct("x", "price"), `approx_count_distinct("x"): column "price": float64, want a string or integer`},
		{Quantile("x", "user_id", 0.5), "utf8, want a number"},
		{Quantile("x", "price", 1.5), "quantile 1.5 outside [0, 1]"},
		{Quantile("x", "price", math.NaN()), "outside [0, 1]"},
		{TopK("x", "price", 3), "want a string or integer"},
		{TopK("x", "user_id", 0), "k = 0"},
		{ApproxCountDistinct("x", "nope"), `no column "nope"`},
	} {
		st, err := Tumbling(time.Second).Aggregate(tt.agg).KeyedStage(nil, "ts")
		if err == nil {
			_, _, err = st.Bind(testSchema)
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.agg, err, tt.want)
		}
	}
	st, err := Tumbling(time.Second).Aggregate(Quantile("p95", "price", 0.95), TopK("top", "user_id", 5), ApproxCountDistinct("u", "uid")).KeyedStage(nil, "ts")
	if err != nil {
		t.Fatal(err)
	}
	if want := "tumbling(1s) on ts: approx_quantile[0.95](p95: price), top_k[5](top: user_id), approx_count_distinct(u: uid)"; st.Name() != want {
		t.Errorf("name %q, want %q", st.Name(), want)
	}
}

// Run in 3 partitions of the keys and restored at a step into 2, the
// sketches give what one instance gives.
func TestUDAFPartitioned(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	steps := udafSteps(newRand(17), 40)
	keys := []string{"page"}
	want := sortedFired(runSteps(t, mem, newTestOp(t, mem, udafSpec(), keys), steps))
	cut := len(steps) / 2
	a := newPartitioned(t, mem, udafSpec(), keys, 3)
	got := a.run(steps[:cut])
	states := a.snapshots()
	b := newPartitioned(t, mem, udafSpec(), keys, 2)
	for _, op := range b.ops {
		if err := op.RestoreShards(states, nil); err != nil {
			t.Fatal(err)
		}
	}
	got = append(got, b.run(steps[cut:])...)
	if len(got) != len(want) {
		t.Fatalf("%d watermark steps, want %d", len(got), len(want))
	}
	n := 0
	for i := range want {
		n += len(want[i])
		if !slices.Equal(got[i], want[i]) {
			t.Fatalf("watermark step %d:\n got %q\nwant %q", i, got[i], want[i])
		}
	}
	if n == 0 {
		t.Fatal("no output")
	}
}

// FuzzRestoreUDAF fuzzes the decoders of the sketches' states behind a
// valid checksum.
func FuzzRestoreUDAF(f *testing.F) {
	mem := memory.NewGoAllocator()
	op := newTestOp(f, mem, udafSpec(), []string{"page"})
	steps := udafSteps(newRand(4), 3)
	runSteps(f, mem, op, steps[:len(steps)-1]) // windows stay open
	state, err := op.Snapshot()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(state[:len(state)-4])
	f.Fuzz(func(t *testing.T, body []byte) {
		op := newTestOp(t, mem, udafSpec(), []string{"page"})
		if err := op.Restore(binaryAppendCRC(body)); err != nil {
			return
		}
		if _, err := op.Snapshot(); err != nil {
			t.Fatal(err)
		}
		if err := op.OnWatermark(context.Background(), pipeline.MaxTime, func(b *pipeline.Batch) { b.Release() }); err != nil {
			t.Fatal(err)
		}
	})
}
