package tiles

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/expr"
	"github.com/shardflow/shardflow/pipeline"
)

var inSchema = arrow.NewSchema([]arrow.Field{
	{Name: "user_id", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "event_type", Type: arrow.BinaryTypes.String},
	{Name: "page", Type: arrow.BinaryTypes.String},
	{Name: "price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "ts", Type: arrow.FixedWidthTypes.Timestamp_ms, Nullable: true},
}, nil)

type event struct {
	user, typ, page string
	price           float64 // 0: null
	ts              int64
}

const minute = int64(time.Minute / time.Millisecond)

var testSpec = func() *Spec {
	buy := expr.Eq("event_type", "purchase")
	return Every(time.Minute).Features(
		Count("events_1h", time.Hour),
		CountIf("purchases_1h", time.Hour, buy),
		SumIf("revenue_1h", "price", time.Hour, buy),
		Count("events_3m", 3*time.Minute),
		Last("last_page", "page"),
		LastTime("last_event_ts"),
	).Online("online")
}

// testBound is the test operators' out-of-orderness bound: the disorder of
// the tests' events.
const testBound = 30_000

// newOp binds testSpec and makes instance part of parts.
func newOp(t *testing.T, mem memory.Allocator, part, parts int) *Operator {
	t.Helper()
	st, err := testSpec().KeyedStage([]string{"user_id"}, "ts")
	if err != nil {
		t.Fatal(err)
	}
	_, mk, err := st.Bind(inSchema)
	if err != nil {
		t.Fatal(err)
	}
	op, err := mk(pipeline.OperatorEnv{Mem: mem, Partition: part, Partitions: parts, Bound: testBound})
	if err != nil {
		t.Fatal(err)
	}
	return op.(*Operator)
}

func batchOf(mem memory.Allocator, shard string, evs []event) *pipeline.Batch {
	b := array.NewRecordBuilder(mem, inSchema)
	defer b.Release()
	for _, e := range evs {
		b.Field(0).(*array.StringBuilder).Append(e.user)
		b.Field(1).(*array.StringBuilder).Append(e.typ)
		b.Field(2).(*array.StringBuilder).Append(e.page)
		if e.price == 0 {
			b.Field(3).AppendNull()
		} else {
			b.Field(3).(*array.Float64Builder).Append(e.price)
		}
		b.Field(4).(*array.TimestampBuilder).Append(arrow.Timestamp(e.ts))
	}
	return &pipeline.Batch{Rec: b.NewRecordBatch(), Shard: shard}
}

// collect renders the rows of emitted batches, per side.
type collect map[pipeline.Side][]string

func (c collect) emit(b *pipeline.Batch) {
	defer b.Release()
	rec := b.Rec
	for i := range int(rec.NumRows()) {
		var f []string
		for j, col := range rec.Columns() {
			name := rec.Schema().Field(j).Name
			if col.IsNull(i) {
				f = append(f, name+"=null")
				continue
			}
			f = append(f, name+"="+col.ValueStr(i))
		}
		c[b.Side] = append(c[b.Side], strings.Join(f, " "))
	}
}

// reference computes the row of user u as of tile T from the events seen,
// independently of the operator: windows are [end-over, end) of event time.
func reference(seen []event, u string, T int64) string {
	end := (T + 1) * minute
	var events, buys, events3 int64
	var rev float64
	var last *event
	for i := range seen {
		e := &seen[i]
		if e.user != u || e.ts >= end {
			continue
		}
		if e.ts >= end-60*minute {
			events++
			if e.typ == "purchase" {
				buys++
				rev += e.price
			}
		}
		if e.ts >= end-3*minute {
			events3++
		}
		if last == nil || e.ts >= last.ts {
			last = e
		}
	}
	ts := func(ms int64) string {
		return arrow.Timestamp(ms).ToTime(arrow.Millisecond).Format("2006-01-02T15:04:05.999999999Z0700")
	}
	return fmt.Sprintf("window_start=%s window_end=%s user_id=%s events_1h=%d purchases_1h=%d revenue_1h=%g events_3m=%d last_page=%s last_event_ts=%s revision=%d",
		ts(T*minute), ts(end), u, events, buys, rev, events3, last.page, ts(last.ts), events)
}

// randomEvents are n events of 5 users over about 3 hours, each at most
// disorder behind the latest before it.
func randomEvents(seed uint64, n int, disorder int64) []event {
	r := rand.New(rand.NewPCG(seed, 1))
	pages := []string{"/", "/cart", "/p/1", "/p/2"}
	var evs []event
	now := int64(1_767_225_600_000) // 2026-01-01
	for range n {
		now += r.Int64N(20_000)
		e := event{user: fmt.Sprintf("u%d", r.IntN(5)), typ: "page_view", page: pages[r.IntN(len(pages))], ts: now - r.Int64N(disorder+1)}
		if r.IntN(5) == 0 {
			e.typ, e.price = "purchase", float64(1+r.IntN(100))/4
		}
		evs = append(evs, e)
	}
	return evs
}

// run feeds evs to op in batches of size, each followed by a checkpoint's
// PrepareSnapshot and a watermark of the latest event time minus disorder,
// then the end of input; it checks every online row against the reference
// over the events seen so far.
func run(t *testing.T, op *Operator, evs []event, size int, disorder int64) collect {
	t.Helper()
	ctx := context.Background()
	mem := memory.NewGoAllocator()
	out := collect{}
	var seen []event
	maxTs := int64(math.MinInt64)
	for i := 0; i < len(evs); i += size {
		chunk := evs[i:min(i+size, len(evs))]
		before := len(out["online"])
		if err := op.Process(ctx, batchOf(mem, "shard-0", chunk), out.emit); err != nil {
			t.Fatal(err)
		}
		if n := len(out["online"]); n != before {
			t.Fatalf("Process emitted %d online rows; they wait for the checkpoint", n-before)
		}
		if err := op.PrepareSnapshot(ctx, out.emit); err != nil {
			t.Fatal(err)
		}
		seen = append(seen, chunk...)
		latest := map[string]int64{}
		for _, e := range seen {
			latest[e.user] = max(latest[e.user], e.ts)
			maxTs = max(maxTs, e.ts)
		}
		var want []string
		for _, u := range uniqueUsers(chunk) {
			want = append(want, reference(seen, u, floorDiv(latest[u], minute)))
		}
		if got := out["online"][before:]; !slices.Equal(got, want) {
			t.Fatalf("after %d events, online rows:\n%s\nwant:\n%s", len(seen), strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if err := op.OnWatermark(ctx, maxTs-disorder, out.emit); err != nil {
			t.Fatal(err)
		}
	}
	if err := op.OnWatermark(ctx, math.MaxInt64, out.emit); err != nil {
		t.Fatal(err)
	}
	return out
}

func uniqueUsers(evs []event) []string {
	var us []string
	for _, e := range evs {
		if !slices.Contains(us, e.user) {
			us = append(us, e.user)
		}
	}
	return us
}

// wantOffline is one reference row per user and tile with events.
func wantOffline(evs []event) []string {
	type ut struct {
		u string
		t int64
	}
	seen := map[ut]bool{}
	var keys []ut
	for _, e := range evs {
		k := ut{e.user, floorDiv(e.ts, minute)}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b ut) int {
		if a.t != b.t {
			return int(a.t - b.t)
		}
		return strings.Compare(a.u, b.u)
	})
	var want []string
	for _, k := range keys {
		want = append(want, reference(evs, k.u, k.t))
	}
	return want
}

// The offline rows are the reference's, one per user and tile with events,
// in order of tile and key; each checkpoint's online rows are the
// reference's as of the latest tile of each user touched since the previous
// one; and memory is all released.
func TestFeaturesEqualTheReference(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			const disorder = 30_000
			evs := randomEvents(seed, 2000, disorder)
			op := newOp(t, mem, 0, 1)
			out := run(t, op, evs, 37, disorder)
			if got, want := out[pipeline.MainSide], wantOffline(evs); !slices.Equal(got, want) {
				t.Fatalf("%d offline rows, want %d; first difference: %s", len(got), len(want), firstDiff(got, want))
			}
			if op.lateRows != 0 || len(op.ents) != 0 {
				t.Fatalf("late rows %d, entities left %d; want 0 and 0", op.lateRows, len(op.ents))
			}
		})
	}
}

func firstDiff(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("row %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
	return fmt.Sprintf("%d rows vs %d", len(got), len(want))
}

// A record of a tile that has closed at the watermark is counted as late and
// changes neither output; a record without a key or a time is counted too.
func TestLateRecordsChangeNothing(t *testing.T) {
	ctx := context.Background()
	mem := memory.NewGoAllocator()
	op := newOp(t, mem, 0, 1)
	out := collect{}
	base := int64(1_767_225_600_000)
	if err := op.Process(ctx, batchOf(mem, "s", []event{{user: "a", typ: "page_view", page: "/", ts: base + 5*minute}}), out.emit); err != nil {
		t.Fatal(err)
	}
	if err := op.OnWatermark(ctx, base+6*minute, out.emit); err != nil {
		t.Fatal(err)
	}
	rows := len(out[pipeline.MainSide]) + len(out["online"])
	late := batchOf(mem, "s", []event{{user: "a", typ: "purchase", price: 9, page: "/late", ts: base + 5*minute + 1}})
	if err := op.Process(ctx, late, out.emit); err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(mem, inSchema)
	b.Field(0).AppendNull()
	b.Field(1).(*array.StringBuilder).Append("page_view")
	b.Field(2).(*array.StringBuilder).Append("/")
	b.Field(3).AppendNull()
	b.Field(4).(*array.TimestampBuilder).Append(arrow.Timestamp(base + 7*minute))
	if err := op.Process(ctx, &pipeline.Batch{Rec: b.NewRecordBatch()}, out.emit); err != nil {
		t.Fatal(err)
	}
	b.Release()
	if n := len(out[pipeline.MainSide]) + len(out["online"]); n != rows || op.lateRows != 1 || op.nullRows != 1 {
		t.Fatalf("rows %d (was %d), late %d, null %d; want unchanged, 1, 1", n, rows, op.lateRows, op.nullRows)
	}
}

// An entity keeps only the tiles a future row can read, and is dropped once
// its latest tile is a longest window behind the watermark.
func TestStateIsPruned(t *testing.T) {
	ctx := context.Background()
	mem := memory.NewGoAllocator()
	op := newOp(t, mem, 0, 1)
	out := collect{}
	base := int64(1_767_225_600_000)
	var evs []event
	for m := range int64(120) {
		evs = append(evs, event{user: "a", typ: "page_view", page: "/", ts: base + m*minute})
	}
	evs = append(evs, event{user: "b", typ: "page_view", page: "/", ts: base})
	if err := op.Process(ctx, batchOf(mem, "s", evs), out.emit); err != nil {
		t.Fatal(err)
	}
	if err := op.OnWatermark(ctx, base+100*minute, out.emit); err != nil {
		t.Fatal(err)
	}
	// a keeps the tiles after min(100, 119) - 60; b's only tile is 100 behind.
	if a := op.ents["a"]; op.ents["b"] != nil || a == nil || a.idx[0] != base/minute+41 || len(a.idx) != 79 {
		t.Fatalf("state: b %v, a's tiles %d from %d; want b dropped and a's 79 from tile 41", op.ents["b"] != nil, len(op.ents["a"].idx), op.ents["a"].idx[0]-base/minute)
	}
}

// A checkpoint taken anywhere restores into instances of any parallelism
// that go on to produce the same rows as an uninterrupted run.
func TestRestoreGivesTheSameRows(t *testing.T) {
	const disorder = 30_000
	evs := randomEvents(9, 1500, disorder)
	want := wantOffline(evs)
	for _, cut := range []int{0, 370, 1111} {
		for _, parts := range []int{1, 2, 3} {
			t.Run(fmt.Sprintf("cut%d/parts%d", cut, parts), func(t *testing.T) {
				ctx := context.Background()
				mem := memory.NewGoAllocator()
				first := newOp(t, mem, 0, 1)
				out := collect{}
				maxTs := int64(math.MinInt64)
				for _, e := range evs[:cut] {
					if err := first.Process(ctx, batchOf(mem, "shard-"+e.user, []event{e}), out.emit); err != nil {
						t.Fatal(err)
					}
					maxTs = max(maxTs, e.ts)
					if err := first.OnWatermark(ctx, maxTs-disorder, out.emit); err != nil {
						t.Fatal(err)
					}
				}
				common, shards, err := first.SnapshotShards()
				if err != nil {
					t.Fatal(err)
				}
				byShard := map[string][][]byte{}
				for s, b := range shards {
					byShard[s] = [][]byte{b}
				}
				ops := make([]*Operator, parts)
				for i := range ops {
					ops[i] = newOp(t, mem, i, parts)
					if err := ops[i].RestoreShards([][]byte{common}, byShard); err != nil {
						t.Fatal(err)
					}
				}
				offline := out[pipeline.MainSide]
				for _, e := range evs[cut:] {
					h := pipeline.NewKeyHash().String(e.user).Partition(parts)
					if err := ops[h].Process(ctx, batchOf(mem, "shard-"+e.user, []event{e}), out.emit); err != nil {
						t.Fatal(err)
					}
					maxTs = max(maxTs, e.ts)
					for _, op := range ops {
						if err := op.OnWatermark(ctx, maxTs-disorder, out.emit); err != nil {
							t.Fatal(err)
						}
					}
				}
				for _, op := range ops {
					if err := op.OnWatermark(ctx, math.MaxInt64, out.emit); err != nil {
						t.Fatal(err)
					}
				}
				got := append(offline, out[pipeline.MainSide][len(offline):]...)
				slices.Sort(got)
				w := slices.Clone(want)
				slices.Sort(w)
				if !slices.Equal(got, w) {
					t.Fatalf("%d rows, want %d: %s", len(got), len(w), firstDiff(got, w))
				}
			})
		}
	}
}

// Damaged state, or state of other features, is refused and leaves the
// operator as it was.
func TestRestoreRefusesDamagedState(t *testing.T) {
	ctx := context.Background()
	mem := memory.NewGoAllocator()
	op := newOp(t, mem, 0, 1)
	out := collect{}
	if err := op.Process(ctx, batchOf(mem, "s", randomEvents(4, 50, 0)), out.emit); err != nil {
		t.Fatal(err)
	}
	state, err := op.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	st, err := Every(time.Minute).Features(Count("n", time.Hour)).KeyedStage([]string{"user_id"}, "ts")
	if err != nil {
		t.Fatal(err)
	}
	_, mk, err := st.Bind(inSchema)
	if err != nil {
		t.Fatal(err)
	}
	other, err := mk(pipeline.OperatorEnv{Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.(*Operator).Restore(state); !errors.Is(err, ErrCorruptSnapshot) {
		t.Fatalf("state of other features: %v, want ErrCorruptSnapshot", err)
	}
	fresh := newOp(t, mem, 0, 1)
	for _, bad := range [][]byte{nil, []byte("SFTL\x09"), state[:len(state)-3], append(slices.Clone(state), 7)} {
		if err := fresh.Restore(bad); !errors.Is(err, ErrCorruptSnapshot) {
			t.Fatalf("Restore(%d bytes): %v, want ErrCorruptSnapshot", len(bad), err)
		}
		if len(fresh.ents) != 0 {
			t.Fatal("a refused state changed the operator")
		}
	}
	if err := fresh.Restore(state); err != nil || len(fresh.ents) != len(op.ents) {
		t.Fatalf("Restore: %v, %d entities; want %d", err, len(fresh.ents), len(op.ents))
	}
}

// A declaration that cannot work fails before the job runs.
func TestBadSpecs(t *testing.T) {
	buy := expr.Eq("event_type", "purchase")
	for _, c := range []struct {
		spec *Spec
		keys []string
		want string
	}{
		{Every(0).Features(Count("n", time.Hour)), []string{"user_id"}, "tile"},
		{Every(time.Minute).Features(Count("n", 90*time.Second)), []string{"user_id"}, "multiple of the tile"},
		{Every(time.Minute), []string{"user_id"}, "no features"},
		{Every(time.Minute).Features(Count("n", time.Hour)), []string{"user_id", "page"}, "one key column"},
		{Every(time.Minute).Features(Count("user_id", time.Hour)), []string{"user_id"}, "taken"},
		{Every(time.Minute).Features(Count("n", time.Hour)).Online(pipeline.DeadLetterSide), []string{"user_id"}, "side of its own"},
		{Every(time.Minute).Features(CountIf("n", time.Hour, nil)), []string{"user_id"}, "nil predicate"},
		{Every(time.Minute).Features(Sum("n", "page", time.Hour)), []string{"user_id"}, "want int64 or float64"},
		{Every(time.Minute).Features(SumIf("n", "price", time.Hour, buy), Last("l", "nope")), []string{"user_id"}, `no column "nope"`},
		{Every(time.Minute).Features(Count("n", time.Hour)), []string{"page_id"}, `no column "page_id"`},
	} {
		st, err := c.spec.KeyedStage(c.keys, "ts")
		if err == nil {
			_, _, err = st.Bind(inSchema)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one with %q", c.keys, err, c.want)
		}
	}
}
