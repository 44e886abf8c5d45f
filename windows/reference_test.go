package windows

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/shardflow/shardflow/pipeline"
)

// refAggs uses every aggregate over every column kind it accepts.
func refAggs() []Agg {
	return []Agg{
		Count("events"),
		CountIf("views", eqPred{"event_type", "view"}),
		SumIf("revenue", "price", eqPred{"event_type", "purchase"}),
		Sum("qty_sum", "qty"),
		Sum("price_sum", "price"),
		Min("qty_min", "qty"),
		Max("price_max", "price"),
		Min("ts_min", "ts"),
		Max("big_max", "big"),
		Min("big_min", "big"),
		Avg("price_avg", "price"),
		Avg("qty_avg", "qty"),
		CountDistinct("users", "user_id"),
		CountDistinct("uids", "uid"),
		CountIf("purchases", eqPred{"event_type", "purchase"}),
		Max("qty_max", "qty"),
		Min("price_min", "price"),
	}
}

// refAgg computes the aggregates of refAggs over rows, the plain way.
func refAgg(rows []row) []string {
	var (
		views, purchases, qtySum int64
		revenue, priceSum        float64
		qtyMin, qtyMax, tsMin    *int64
		priceMin, priceMax       *float64
		bigMin, bigMax           *uint64
		priceN, qtyN             int64
		users                    = map[string]bool{}
		uids                     = map[int64]bool{}
	)
	for _, r := range rows {
		switch r.event {
		case "view":
			views++
		case "purchase":
			purchases++
			if r.price != nil {
				revenue += *r.price
			}
		}
		if r.qty != nil {
			q := int64(*r.qty)
			qtySum += q
			qtyN++
			if qtyMin == nil || q < *qtyMin {
				qtyMin = &q
			}
			if qtyMax == nil || q > *qtyMax {
				qtyMax = &q
			}
		}
		if r.price != nil {
			priceSum += *r.price
			priceN++
			if priceMax == nil || *r.price > *priceMax {
				priceMax = r.price
			}
			if priceMin == nil || *r.price < *priceMin {
				priceMin = r.price
			}
		}
		if tsMin == nil || *r.ts < *tsMin {
			tsMin = r.ts
		}
		if r.big != nil {
			if bigMin == nil || *r.big < *bigMin {
				bigMin = r.big
			}
			if bigMax == nil || *r.big > *bigMax {
				bigMax = r.big
			}
		}
		if r.user != nil {
			users[*r.user] = true
		}
		if r.uid != nil {
			uids[*r.uid] = true
		}
	}
	str := func(v any) string {
		switch v := v.(type) {
		case *int64:
			if v == nil {
				return "null"
			}
			return strconv.FormatInt(*v, 10)
		case *uint64:
			if v == nil {
				return "null"
			}
			return strconv.FormatUint(*v, 10)
		case *float64:
			if v == nil {
				return "null"
			}
			return fmtFloat(*v)
		case int64:
			return strconv.FormatInt(v, 10)
		case float64:
			return fmtFloat(v)
		}
		panic(fmt.Sprintf("%T", v))
	}
	avg := func(sum float64, n int64) string {
		if n == 0 {
			return "null"
		}
		return fmtFloat(sum / float64(n))
	}
	return []string{
		str(int64(len(rows))), str(views), str(revenue), str(qtySum), str(priceSum),
		str(qtyMin), str(priceMax), str(tsMin), str(bigMax), str(bigMin),
		avg(priceSum, priceN), avg(float64(qtySum), qtyN),
		str(int64(len(users))), str(int64(len(uids))), str(purchases),
		str(qtyMax), str(priceMin),
	}
}

// keyOf renders the key columns of r and a comparable form of them.
func keyOf(r row, keys []string) ([]string, []any) {
	var cells []string
	var vals []any
	for _, k := range keys {
		var v any
		var s string
		switch k {
		case "page":
			if r.page != nil {
				v, s = *r.page, *r.page
			}
		case "uid":
			if r.uid != nil {
				v, s = *r.uid, strconv.FormatInt(*r.uid, 10)
			}
		case "qty":
			if r.qty != nil {
				v, s = int64(*r.qty), strconv.FormatInt(int64(*r.qty), 10)
			}
		case "flag":
			if r.flag != nil {
				v, s = *r.flag, strconv.FormatBool(*r.flag)
			}
		}
		if v == nil {
			s = "null"
		}
		cells, vals = append(cells, s), append(vals, v)
	}
	return cells, vals
}

func compareKeys(a, b []any) int {
	for i := range a {
		switch {
		case a[i] == nil && b[i] == nil:
			continue
		case a[i] == nil:
			return -1
		case b[i] == nil:
			return 1
		}
		var r int
		switch x := a[i].(type) {
		case string:
			r = strings.Compare(x, b[i].(string))
		case int64:
			r = cmp.Compare(x, b[i].(int64))
		case bool:
			r = cmp.Compare(b2i(x), b2i(b[i].(bool)))
		}
		if r != 0 {
			return r
		}
	}
	return 0
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// refWindows are the starts of the windows of size every slide (offset) that
// hold t, found by walking back from the last one.
func refWindows(t, size, slide, offset int64) []int64 {
	k := (t - offset) / slide
	if (t-offset)%slide < 0 {
		k--
	}
	var out []int64
	for s := k*slide + offset; s+size > t; s -= slide {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// reference runs steps through a plain model of the operator and returns what
// each watermark step fires.
func reference(steps []step, keys []string, size, slide, offset int64) []fired {
	type group struct {
		cells []string
		vals  []any
		rows  []row
	}
	open := map[int64]map[string]*group{}
	wm := pipeline.MinTime
	hi := map[string]int64{} // each shard's highest event time so far
	var out []fired
	for _, s := range steps {
		if s.wm == nil {
			for _, r := range s.rows {
				if r.ts == nil {
					continue
				}
				h, ok := hi[s.shard]
				if !ok || *r.ts > h {
					h = *r.ts
				}
				hi[s.shard] = h
				for _, st := range refWindows(*r.ts, size, slide, offset) {
					if st+size <= max(wm, h-testBound) {
						continue // late for its shard, or its window fired
					}
					cells, vals := keyOf(r, keys)
					ks := strings.Join(cells, "\x00") + fmt.Sprint(vals...)
					if open[st] == nil {
						open[st] = map[string]*group{}
					}
					g := open[st][ks]
					if g == nil {
						g = &group{cells: cells, vals: vals}
						open[st][ks] = g
					}
					g.rows = append(g.rows, r)
				}
			}
			continue
		}
		var f fired
		if *s.wm > wm {
			wm = *s.wm
			var starts []int64
			for st := range open {
				if st+size <= wm {
					starts = append(starts, st)
				}
			}
			slices.Sort(starts)
			for _, st := range starts {
				var gs []*group
				for _, g := range open[st] {
					gs = append(gs, g)
				}
				slices.SortFunc(gs, func(a, b *group) int { return compareKeys(a.vals, b.vals) })
				for _, g := range gs {
					cells := append([]string{strconv.FormatInt(st, 10), strconv.FormatInt(st+size, 10)}, g.cells...)
					f.rows = append(f.rows, strings.Join(append(cells, refAgg(g.rows)...), "|"))
				}
				delete(open, st)
			}
			if len(starts) > 0 {
				f.batches, f.minT, f.maxT = 1, starts[0], starts[len(starts)-1]+size
			}
		}
		out = append(out, f)
	}
	return out
}

// randomSteps makes a script of batches from several shards with nulls, late
// rows and watermarks that follow the shards' progress.
func randomSteps(rng *rand.Rand, nBatches int, base int64) []step {
	shards := []string{"shard-b", "shard-a", "shard-d", "shard-c"}
	cursor := map[string]int64{}
	for _, s := range shards {
		cursor[s] = base + rng.Int64N(5000)
	}
	events := []string{"view", "click", "purchase", "scroll"}
	var steps []step
	for i := range nBatches {
		sh := shards[rng.IntN(len(shards))]
		n := 1 + rng.IntN(150)
		rows := make([]row, n)
		for j := range rows {
			cursor[sh] += rng.Int64N(120)
			r := row{event: events[rng.IntN(len(events))]}
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
			if rng.IntN(4) > 0 {
				r.big = ptr(rng.Uint64())
			}
			if rng.IntN(8) > 0 {
				r.flag = ptr(rng.IntN(2) == 1)
			}
			if rng.IntN(50) > 0 {
				ts := cursor[sh] - rng.Int64N(3000)
				if rng.IntN(40) == 0 {
					ts -= 20_000 // likely late
				}
				r.ts = &ts
			}
			rows[j] = r
		}
		steps = append(steps, step{shard: sh, rows: rows})
		if i%3 == 2 {
			low := int64(math.MaxInt64)
			for _, c := range cursor {
				low = min(low, c)
			}
			steps = append(steps, step{wm: ptr(low - 4000)})
		}
	}
	return clockSteps(append(steps, step{wm: ptr(pipeline.MaxTime)}))
}

func TestAggregateMatchesReference(t *testing.T) {
	tests := []struct {
		name     string
		assigner Assigner
		size     int64
		slide    int64
		offset   int64
		keys     []string
		base     int64
		compact  int
	}{
		{"tumbling by page", Tumbling(10 * time.Second), 10_000, 10_000, 0, []string{"page"}, 1_700_000_000_000, 0},
		{"tumbling negative times", Tumbling(10 * time.Second), 10_000, 10_000, 0, []string{"page"}, -61_000, 0},
		{"tumbling with offset", Tumbling(7 * time.Second).WithOffset(3 * time.Second), 7000, 7000, 3000, []string{"page"}, 1_700_000_000_000, 0},
		{"multi-key", Tumbling(5 * time.Second), 5000, 5000, 0, []string{"page", "qty", "flag"}, 1_700_000_000_000, 0},
		{"integer key", Tumbling(5 * time.Second), 5000, 5000, 0, []string{"uid"}, 1_700_000_000_000, 0},
		{"no key", Tumbling(5 * time.Second), 5000, 5000, 0, nil, 1_700_000_000_000, 0},
		{"sliding", Sliding(9*time.Second, 3*time.Second), 9000, 3000, 0, []string{"page"}, 1_700_000_000_000, 0},
		{"sliding on many panes", Sliding(60*time.Second, 2*time.Second).WithOffset(time.Second), 60_000, 2000, 1000, []string{"page"}, 1_700_000_000_000, 0},
		{"compacting dicts", Tumbling(5 * time.Second), 5000, 5000, 0, []string{"page", "flag"}, 1_700_000_000_000, 1},
		{"dense distinct", Tumbling(30 * time.Second), 30_000, 30_000, 0, []string{"flag"}, 1_700_000_000_000, 0},
		{"dense distinct compacting", Tumbling(30 * time.Second), 30_000, 30_000, 0, []string{"flag"}, 1_700_000_000_000, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := range uint64(5) {
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
				rng := rand.New(rand.NewPCG(seed, 42))
				steps := randomSteps(rng, 60, tt.base)
				op := newTestOp(t, mem, Aggregate(tt.assigner, refAggs()...), tt.keys)
				if tt.compact > 0 {
					op.minCompact, op.compact = tt.compact, tt.compact
				}
				got := runSteps(t, mem, op, steps)
				want := reference(steps, tt.keys, tt.size, tt.slide, tt.offset)
				compareFired(t, got, want)
				mem.AssertSize(t, 0)
				if c := op.Counters(); c["open_windows"] != 0 {
					t.Errorf("open_windows = %d after the final watermark", c["open_windows"])
				}
			}
		})
	}
}

func compareFired(t *testing.T, got, want []fired) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d watermark results, want %d", len(got), len(want))
	}
	total := 0
	for i := range want {
		g, w := got[i], want[i]
		total += len(w.rows)
		if g.batches != w.batches || g.minT != w.minT || g.maxT != w.maxT {
			t.Fatalf("watermark %d: %d batches [%d, %d), want %d [%d, %d)", i, g.batches, g.minT, g.maxT, w.batches, w.minT, w.maxT)
		}
		if !slices.Equal(g.rows, w.rows) {
			for j := range max(len(g.rows), len(w.rows)) {
				var gr, wr string
				if j < len(g.rows) {
					gr = g.rows[j]
				}
				if j < len(w.rows) {
					wr = w.rows[j]
				}
				if gr != wr {
					t.Fatalf("watermark %d row %d:\n got %s\nwant %s", i, j, gr, wr)
				}
			}
		}
	}
	if total == 0 {
		t.Fatal("no output at all")
	}
}
