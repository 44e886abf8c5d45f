package windows

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/pipeline"
)

// feedShards runs rows of two shards through a fresh operator in the order
// and batch sizes that order gives ("a3" is the next 3 rows of shard a),
// with the watermark the runtime would send after each batch: the lower
// of the shards' highest event times so far minus the bound. It returns
// the rows fired and the late_rows counter.
func feedShards(t *testing.T, rows map[string][]row, order []string) ([]string, int64) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	op := newTestOp(t, mem, Tumbling(10*time.Second).Aggregate(Count("n"), Sum("price", "price")), []string{"page"})
	ctx := context.Background()
	hi := map[string]int64{"a": pipeline.MinTime, "b": pipeline.MinTime}
	next := map[string]int{}
	var out []string
	emit := func(b *pipeline.Batch) { out = append(out, recordRows(b.Rec)...); b.Release() }
	for _, o := range order {
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

// orders returns ways to read two shards of na and nb rows: one after the
// other both ways, and interleaved in random batch sizes.
func orders(rng *rand.Rand, na, nb int) [][]string {
	out := [][]string{{fmt.Sprint("a", na), fmt.Sprint("b", nb)}, {fmt.Sprint("b", nb), fmt.Sprint("a", na)}}
	for range 6 {
		var o []string
		left := map[string]int{"a": na, "b": nb}
		for left["a"]+left["b"] > 0 {
			sh := "a"
			if left["a"] == 0 || left["b"] > 0 && rng.IntN(2) == 0 {
				sh = "b"
			}
			n := min(1+rng.IntN(40), left[sh])
			left[sh] -= n
			o = append(o, fmt.Sprint(sh, n))
		}
		out = append(out, o)
	}
	return out
}

// The late rows of a bounded input, and so the output, do not depend on how
// the shards' reads interleave or how they are cut into batches: a row is
// judged by its own shard's watermark. Shard a has one event an hour ahead
// of the rest (a wild clock): the rows of a after it are late, b's are not,
// whichever shard is read first.
func TestLateRowsDoNotDependOnTheShardsPace(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	rows := map[string][]row{}
	for _, sh := range []string{"a", "b"} {
		ts := int64(1_700_000_000_000)
		for i := range 300 {
			ts += rng.Int64N(400)
			at := ts - rng.Int64N(3000) // within the bound
			if sh == "a" && i == 150 {
				at = ts + int64(time.Hour/time.Millisecond)
			}
			rows[sh] = append(rows[sh], row{page: ptr(fmt.Sprint("/p/", rng.IntN(5))), event: "view", price: ptr(float64(i)), ts: ptr(at)})
		}
	}
	var first []string
	var firstLate int64
	for i, o := range orders(rng, len(rows["a"]), len(rows["b"])) {
		out, late := feedShards(t, rows, o)
		if i == 0 {
			first, firstLate = out, late
			if late < 100 || late > 150 {
				t.Fatalf("%d late rows, want the ~149 rows of shard a after its wild event", late)
			}
			continue
		}
		if late != firstLate || !slices.Equal(out, first) {
			t.Errorf("order %v: %d late rows and %d rows out, want %d and the same %d rows as order %v", o, late, len(out), firstLate, len(first), []string{"a300", "b300"})
		}
	}
}
