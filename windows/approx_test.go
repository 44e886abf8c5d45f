package windows

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// runOneGroup feeds rows, half from shard "a" and half from shard "b" in
// batches of 4096, to a one-minute window without keys and returns the
// output row's cells after the window column bounds. It runs them twice,
// the second time through a snapshot and restore after half the batches,
// and fails unless both give the same row. With oneShard, it also runs them
// all from one shard, and fails unless that gives the same row too.
func runOneGroup(t *testing.T, aggs []Agg, rows []row, oneShard bool) []string {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	spec := Tumbling(time.Minute).Aggregate(aggs...)
	var steps []step
	for i := 0; i < len(rows); i += 4096 {
		steps = append(steps, step{shard: []string{"a", "b"}[i/4096%2], rows: rows[i:min(i+4096, len(rows))]})
	}
	steps = append(steps, step{wm: ptr[int64](60_000)})
	got := runSteps(t, mem, newTestOp(t, mem, spec, nil), steps)
	if len(got) != 1 || len(got[0].rows) != 1 {
		t.Fatalf("got %v", got)
	}
	op := newTestOp(t, mem, spec, nil)
	cut := len(steps) / 2
	runSteps(t, mem, op, steps[:cut])
	state, err := op.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	op = newTestOp(t, mem, spec, nil)
	if err := op.Restore(state); err != nil {
		t.Fatal(err)
	}
	again := runSteps(t, mem, op, steps[cut:])
	if len(again) != 1 || !slices.Equal(again[0].rows, got[0].rows) {
		t.Errorf("through a snapshot of %d bytes\n got %q\nwant %q", len(state), again[0].rows, got[0].rows)
	}
	if oneShard {
		one := slices.Clone(steps)
		for i := range one[:len(one)-1] {
			one[i].shard = "a"
		}
		single := runSteps(t, mem, newTestOp(t, mem, spec, nil), one)
		if len(single) != 1 || !slices.Equal(single[0].rows, got[0].rows) {
			t.Errorf("from one shard\n got %q\nwant %q", single[0].rows, got[0].rows)
		}
	}
	return strings.Split(got[0].rows[0], "|")[2:]
}

// HyperLogLog at precision 14 has a standard error of 0.81%; on 1e5
// distinct values (each seen twice, from both shards) the estimate is
// within three standard errors, for strings and for integers.
func TestApproxCountDistinctAccuracy(t *testing.T) {
	const n = 100_000
	rng := newRand(1)
	rows := make([]row, 0, 2*n)
	for i := range n {
		rows = append(rows, row{user: ptr(fmt.Sprintf("user-%d", i)), uid: ptr(int64(i)*7919 - 1e9), event: "v", ts: ptr(rng.Int64N(60_000))})
	}
	for i := range n { // repeats, in another order
		j := (i * 31337) % n
		rows = append(rows, row{user: ptr(fmt.Sprintf("user-%d", j)), uid: ptr(int64(j)*7919 - 1e9), event: "v", ts: ptr(rng.Int64N(60_000))})
	}
	cells := runOneGroup(t, []Agg{ApproxCountDistinct("users", "user_id"), ApproxCountDistinct("uids", "uid")}, rows, true)
	const bound = 3 * 0.0081
	for i, c := range cells {
		est, err := strconv.ParseFloat(c, 64)
		if err != nil {
			t.Fatal(err)
		}
		rel := math.Abs(est-n) / n
		t.Logf("column %d: estimate %.0f of %d, error %.2f%%", i, est, n, 100*rel)
		if rel > bound {
			t.Errorf("column %d: estimate %.0f of %d distinct, error %.2f%% over %.2f%%", i, est, n, 100*rel, 100*bound)
		}
	}
}

// DDSketch's quantiles are within 1% of the value at rank q·(n-1), on
// log-normal values with a negative tail, spread over two shards.
func TestQuantileAccuracy(t *testing.T) {
	const n = 100_000
	rng := newRand(2)
	rows := make([]row, n)
	vals := make([]float64, n)
	for i := range rows {
		v := math.Exp(rng.NormFloat64()*2 + 3)
		if rng.IntN(10) == 0 {
			v = -v
		}
		vals[i] = v
		rows[i] = row{price: ptr(v), event: "v", ts: ptr(rng.Int64N(60_000))}
	}
	slices.Sort(vals)
	qs := []float64{0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1}
	var aggs []Agg
	for i, q := range qs {
		aggs = append(aggs, Quantile("q"+strconv.Itoa(i), "price", q))
	}
	cells := runOneGroup(t, aggs, rows, true)
	for i, q := range qs {
		got, err := strconv.ParseFloat(cells[i], 64)
		if err != nil {
			t.Fatal(err)
		}
		want := vals[int(q*float64(n-1))]
		if rel := math.Abs(got-want) / math.Abs(want); rel > 0.01 {
			t.Errorf("q=%g: %g, want %g within 1%% (off by %.3f%%)", q, got, want, 100*rel)
		}
	}
}

// On a skewed input (Zipf, s=1.1, 10,000 values, 1e5 rows over two shards)
// the top 10 are the true top 10 in order, each with its true count within
// [count-error, count]; the heaviest values enter the sketch early and so
// are counted exactly.
func TestTopKSkewed(t *testing.T) {
	const n = 100_000
	rng := newRand(3)
	z := rand.NewZipf(newRand(4), 1.1, 1, 9999)
	rows := make([]row, n)
	exact := map[string]int64{}
	exactInt := map[int64]int64{}
	for i := range rows {
		k := int64(z.Uint64())
		u := fmt.Sprintf("user-%d", k)
		exact[u]++
		exactInt[k*3-100]++
		rows[i] = row{user: ptr(u), uid: ptr(k*3 - 100), event: "v", ts: ptr(rng.Int64N(60_000))}
	}
	cells := runOneGroup(t, []Agg{TopK("top", "user_id", 10), TopK("top_uid", "uid", 10)}, rows, false)

	type entry struct {
		Value      any
		Count, Err int64
	}
	parse := func(s string) []entry {
		var raw []struct {
			Value json.RawMessage `json:"value"`
			Count int64           `json:"count"`
			Error int64           `json:"error"`
		}
		if err := json.Unmarshal([]byte(s), &raw); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		var out []entry
		for _, r := range raw {
			var v any
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Fatal(err)
			}
			out = append(out, entry{v, r.Count, r.Error})
		}
		return out
	}
	check := func(name string, got []entry, truth map[string]int64, key func(any) string) {
		type kv struct {
			k string
			v int64
		}
		var all []kv
		for k, v := range truth {
			all = append(all, kv{k, v})
		}
		slices.SortFunc(all, func(a, b kv) int {
			if a.v != b.v {
				return int(b.v - a.v)
			}
			return strings.Compare(a.k, b.k)
		})
		if len(got) != 10 {
			t.Fatalf("%s: %d entries", name, len(got))
		}
		for i, e := range got {
			k := key(e.Value)
			if k != all[i].k {
				t.Errorf("%s rank %d: %s (%d±%d), want %s (%d)", name, i+1, k, e.Count, e.Err, all[i].k, all[i].v)
			}
			if tr := truth[k]; tr > e.Count || tr < e.Count-e.Err {
				t.Errorf("%s: %s true %d outside [%d, %d]", name, k, tr, e.Count-e.Err, e.Count)
			}
			if i < 3 && e.Err != 0 {
				t.Errorf("%s rank %d: error %d, want the heaviest counted exactly", name, i+1, e.Err)
			}
		}
	}
	check("strings", parse(cells[0]), exact, func(v any) string { return v.(string) })
	truthInt := map[string]int64{}
	for k, v := range exactInt {
		truthInt[strconv.FormatInt(k, 10)] = v
	}
	check("integers", parse(cells[1]), truthInt, func(v any) string { return strconv.FormatFloat(v.(float64), 'f', -1, 64) })
}

// Below 1024 distinct values a group's ApproxCountDistinct is exact: it
// equals CountDistinct, here over sliding windows (a row in three windows)
// and rows from four shards.
func TestApproxCountDistinctExactWhenSmall(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	spec := Sliding(9*time.Second, 3*time.Second).Aggregate(
		CountDistinct("users", "user_id"), ApproxCountDistinct("users_approx", "user_id"),
		CountDistinct("uids", "uid"), ApproxCountDistinct("uids_approx", "uid"))
	got := runSteps(t, mem, newTestOp(t, mem, spec, []string{"flag"}), udafSteps(newRand(8), 60))
	n := 0
	for _, f := range got {
		for _, r := range f.rows {
			c := strings.Split(r, "|")
			if c[3] != c[4] || c[5] != c[6] {
				t.Errorf("row %s: approximate counts differ from exact ones", r)
			}
			n++
		}
	}
	if n < 20 {
		t.Fatalf("%d rows", n)
	}
}
