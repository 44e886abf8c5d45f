package windows

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/shardflow/shardflow/pipeline"
)

// sessionAggs read every kind of column a session aggregate takes.
func sessionAggs() []Agg {
	return []Agg{
		Count("events"),
		CountIf("buys", eqPred{"event_type", "buy"}),
		SumIf("qty_bought", "qty", eqPred{"event_type", "buy"}),
		First("landing", "page"),
		Last("exit_qty", "uid"),
		AnyIf("converted", eqPred{"event_type", "buy"}),
	}
}

func newSessionOp(t testing.TB, mem memory.Allocator, gap time.Duration, aggs []Agg, env pipeline.OperatorEnv) *SessionOperator {
	t.Helper()
	st, err := Session(gap).Aggregate(aggs...).KeyedStage([]string{"user_id"}, "ts")
	if err != nil {
		t.Fatal(err)
	}
	_, newOp, err := st.Bind(testSchema)
	if err != nil {
		t.Fatal(err)
	}
	env.Mem = mem
	op, err := newOp(env)
	if err != nil {
		t.Fatal(err)
	}
	return op.(*SessionOperator)
}

// ev is a test event: user, event time, type, page and qty.
func ev(user string, ts int64, typ, page string, qty int32) row {
	return row{user: ptr(user), ts: ptr(ts), event: typ, page: ptr(page), qty: ptr(qty), uid: ptr(int64(qty))}
}

// runSession feeds steps to op and returns the rows emitted, per watermark.
func runSession(t testing.TB, mem memory.Allocator, op *SessionOperator, steps []step) [][]string {
	t.Helper()
	ctx := context.Background()
	var out [][]string
	for _, s := range steps {
		if s.wm == nil {
			if err := op.Process(ctx, buildBatch(t, mem, s.shard, s.rows), nil); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var rows []string
		err := op.OnWatermark(ctx, *s.wm, func(b *pipeline.Batch) {
			if !b.Rec.Schema().Equal(op.p.out) {
				t.Errorf("output schema %s, want %s", b.Rec.Schema(), op.p.out)
			}
			rows = append(rows, recordRows(b.Rec)...)
			b.Release()
		})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rows)
	}
	return out
}

func wmStep(wm int64) step { return step{wm: &wm} }

// Columns: user_id|session_start|session_end|events|buys|qty_bought|landing|exit_qty|converted.
func TestSessionAssignment(t *testing.T) {
	const gap = 100 * time.Millisecond
	for _, tc := range []struct {
		name  string
		steps []step
		want  [][]string
		late  int64
	}{{
		name: "rows within the gap are one session; it closes once the watermark passes last+gap",
		steps: []step{
			{shard: "a", rows: []row{ev("u", 0, "view", "/home", 1), ev("u", 100, "buy", "/cart", 2), ev("v", 50, "view", "/v", 1)}},
			wmStep(200), // u: 100+100 is not < 200
			wmStep(201),
		},
		want: [][]string{{"v|50|50|1|0|0|/v|1|false"}, {"u|0|100|2|1|2|/home|2|true"}},
	}, {
		name: "more than the gap apart: two sessions",
		steps: []step{
			{shard: "a", rows: []row{ev("u", 0, "view", "/a", 1), ev("u", 101, "view", "/b", 2)}},
			wmStep(pipeline.MaxTime),
		},
		want: [][]string{{"u|0|0|1|0|0|/a|1|false", "u|101|101|1|0|0|/b|2|false"}},
	}, {
		name: "a bridging row merges two sessions and their aggregates",
		steps: []step{
			{shard: "a", rows: []row{ev("u", 0, "view", "/a", 1), ev("u", 150, "buy", "/b", 5)}},
			{shard: "a", rows: []row{ev("u", 300, "view", "/c", 7)}},
			{shard: "a", rows: []row{ev("u", 75, "view", "/m", 3), ev("u", 225, "view", "/n", 4)}},
			wmStep(pipeline.MaxTime),
		},
		want: [][]string{{"u|0|300|5|1|5|/a|7|true"}},
	}, {
		name: "bridging inside one batch, after rows of both sessions",
		steps: []step{
			{shard: "a", rows: []row{ev("u", 0, "view", "/a", 1), ev("u", 200, "buy", "/b", 5), ev("u", 10, "view", "/c", 1), ev("u", 100, "view", "/m", 3)}},
			wmStep(pipeline.MaxTime),
		},
		want: [][]string{{"u|0|200|4|1|5|/a|5|true"}},
	}, {
		name: "out of order within the bound",
		steps: []step{
			{shard: "a", rows: []row{ev("u", 500, "view", "/late-first", 1), ev("u", 420, "view", "/first", 2), ev("u", 560, "buy", "/b", 3)}},
			wmStep(450),
			{shard: "a", rows: []row{ev("u", 460, "view", "/x", 4), ev("u", 380, "view", "/earliest", 9)}},
			wmStep(700),
		},
		want: [][]string{nil, {"u|380|560|5|1|3|/earliest|3|true"}},
	}, {
		name: "a row whose session has closed is late; one that can still join is not",
		steps: []step{
			{shard: "a", rows: []row{ev("u", 0, "view", "/a", 1)}},
			wmStep(101), // fires u [0, 0]
			// 0+100 < 101: late; 60+100 >= 101: a new session; 5+100 < 101
			// but within the gap of the open [60, 60]: joins it.
			{shard: "a", rows: []row{ev("u", 0, "view", "/again", 1), ev("u", 60, "view", "/b", 2), ev("u", 5, "view", "/c", 3)}},
			wmStep(pipeline.MaxTime),
		},
		want: [][]string{{"u|0|0|1|0|0|/a|1|false"}, {"u|5|60|2|0|0|/c|2|false"}},
		late: 1,
	}, {
		name: "two shards contribute to one key's session",
		steps: []step{
			{shard: "b", rows: []row{ev("u", 90, "buy", "/b", 2), ev("u", 180, "view", "/b2", 3)}},
			{shard: "a", rows: []row{ev("u", 0, "view", "/a", 1), ev("u", 10, "view", "/a2", 1)}},
			wmStep(200),
			wmStep(281),
		},
		want: [][]string{nil, {"u|0|180|4|1|2|/a|3|true"}},
	}, {
		name: "a row of one shard bridges sessions of another",
		steps: []step{
			{shard: "a", rows: []row{ev("u", 0, "view", "/a", 1), ev("u", 200, "view", "/a2", 2)}},
			wmStep(100), // 0+100 is not < 100
			{shard: "b", rows: []row{ev("u", 100, "buy", "/b", 4)}},
			wmStep(pipeline.MaxTime),
		},
		want: [][]string{nil, {"u|0|200|3|1|4|/a|2|true"}},
	}, {
		name: "a row late for its shard joins the open session of another shard",
		steps: []step{
			{shard: "a", rows: []row{ev("u", 80, "view", "/a", 1), ev("u", 90, "view", "/a", 1)}},
			wmStep(185),
			{shard: "b", rows: []row{ev("u", 75, "buy", "/b", 6)}}, // 75+100 < 185, within the gap of [80, 90]
			{shard: "b", rows: []row{ev("w", 75, "buy", "/w", 6)}}, // no session to join: late
			wmStep(191),
		},
		want: [][]string{nil, {"u|75|90|3|1|6|/b|1|true"}},
		late: 1,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			op := newSessionOp(t, mem, gap, sessionAggs(), pipeline.OperatorEnv{})
			got := runSession(t, mem, op, tc.steps)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
			if c := op.Counters(); c["late_rows"] != tc.late || c["open_sessions"] != 0 {
				t.Errorf("counters %v, want late_rows %d and no open session", c, tc.late)
			}
		})
	}
}

func TestSessionSpecErrors(t *testing.T) {
	for _, tc := range []struct {
		spec *SessionSpec
		keys []string
		want string
	}{
		{Session(0).Aggregate(Count("n")), nil, "session gap 0s must be a positive"},
		{Session(time.Minute).Aggregate(), nil, "no aggregates"},
		{Session(time.Minute).Aggregate(Count("session_start")), nil, "already used by a session bound"},
		{Session(time.Minute).Aggregate(Count("user_id")), []string{"user_id"}, `already used by key column "user_id"`},
		{Session(time.Minute).Aggregate(AnyIf("x", nil)), nil, "nil predicate"},
	} {
		_, err := tc.spec.KeyedStage(tc.keys, "ts")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.spec.aggs, err, tc.want)
		}
	}
	st, err := Session(time.Minute).Aggregate(First("f", "flag")).KeyedStage(nil, "ts")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Bind(testSchema); err == nil || !strings.Contains(err.Error(), "want a number or timestamp") {
		t.Errorf("first of a bool column: %v", err)
	}
	// AnyIf is for sessions only, for now: tumbling windows refuse it.
	if _, err := Tumbling(time.Minute).Aggregate(AnyIf("x", eqPred{"event_type", "buy"})).KeyedStage(nil, "ts"); err == nil {
		t.Error("tumbling windows took AnyIf")
	}
	if got := st.Name(); got != "session(1m) on ts: first(f: flag)" {
		t.Errorf("name %q", got)
	}
}

// refSessions is the session semantics computed row by row from scratch: the
// model the operator is checked against. Rows are kept per key (whatever
// their shard) until their session closes.
type refSessions struct {
	gap, wm int64
	held    map[string][]row
	late    int64
	joined  int64 // rows whose own session would have closed, that joined an open one
}

// sessionsOf chains rows sorted by time into sessions.
func (m *refSessions) sessionsOf(rows []row) [][]row {
	slices.SortStableFunc(rows, func(a, b row) int { return int(*a.ts - *b.ts) })
	var out [][]row
	for _, r := range rows {
		if n := len(out); n > 0 && *r.ts-*out[n-1][len(out[n-1])-1].ts <= m.gap {
			out[n-1] = append(out[n-1], r)
			continue
		}
		out = append(out, []row{r})
	}
	return out
}

func (m *refSessions) add(r row) {
	rows := append(slices.Clone(m.held[*r.user]), r)
	for _, s := range m.sessionsOf(rows) {
		if slices.ContainsFunc(s, func(x row) bool { return x.ts == r.ts }) && *s[len(s)-1].ts+m.gap < m.wm {
			m.late++
			return
		}
	}
	if *r.ts+m.gap < m.wm {
		m.joined++
	}
	m.held[*r.user] = append(m.held[*r.user], r)
}

// fire returns the rows of the sessions wm closes, as the operator renders them.
func (m *refSessions) fire(wm int64) []string {
	if wm <= m.wm {
		return nil
	}
	m.wm = wm
	type out struct {
		start int64
		user  string
		s     string
	}
	var outs []out
	for u, rows := range m.held {
		var keep []row
		for _, s := range m.sessionsOf(rows) {
			last := *s[len(s)-1].ts
			if last+m.gap >= wm && wm != pipeline.MaxTime {
				keep = append(keep, s...)
				continue
			}
			var buys, bought int64
			for _, r := range s {
				if r.event == "buy" {
					buys++
					bought += int64(*r.qty)
				}
			}
			// First takes the earliest row, the first to arrive of equal
			// times; Last the latest, the last to arrive (the rows of a
			// session are sorted stably).
			pages := map[string]bool{}
			for _, r := range s {
				pages[*r.page] = true
			}
			outs = append(outs, out{*s[0].ts, u, fmt.Sprintf("%s|%d|%d|%d|%d|%d|%s|%d|%t|%d",
				u, *s[0].ts, last, len(s), buys, bought, *s[0].page, *s[len(s)-1].qty, buys > 0, len(pages))})
		}
		if keep == nil {
			delete(m.held, u)
		} else {
			m.held[u] = keep
		}
	}
	slices.SortFunc(outs, func(a, b out) int {
		if a.start != b.start {
			return int(a.start - b.start)
		}
		return strings.Compare(a.user, b.user)
	})
	var rows []string
	for _, o := range outs {
		rows = append(rows, o.s)
	}
	return rows
}

// randomSessionSteps makes batches of random users' rows over shards, out of
// order within bound, with watermarks trailing the event time by bound, and
// some rows far behind (late, or joining open sessions). Event times are
// distinct per user, so that First and Last have no ties to break.
func randomSessionSteps(rng *rand.Rand, n int, gap, bound int64) []step {
	var steps []step
	used := map[string]bool{}
	now := int64(0)
	for len(steps) < n {
		sh := fmt.Sprint("shard-", rng.IntN(3))
		var rows []row
		for range 1 + rng.IntN(20) {
			now += rng.Int64N(gap / 4)
			u := fmt.Sprint("u", rng.IntN(12))
			ts := now - rng.Int64N(bound)
			if rng.IntN(30) == 0 {
				ts -= rng.Int64N(3 * gap)
			}
			for used[fmt.Sprint(u, ts)] {
				ts++
			}
			used[fmt.Sprint(u, ts)] = true
			typ := "view"
			if rng.IntN(5) == 0 {
				typ = "buy"
			}
			rows = append(rows, ev(u, ts, typ, fmt.Sprint("/p", rng.IntN(9)), int32(rng.IntN(100))))
		}
		steps = append(steps, step{shard: sh, rows: rows})
		if rng.IntN(3) == 0 {
			steps = append(steps, wmStep(now-bound))
		}
	}
	return append(steps, wmStep(pipeline.MaxTime))
}

// The operator emits what the row-by-row model emits, over random inputs on
// several shards, also when it is snapshotted and restored (whole, or shard
// by shard into instances of other partitions) at every watermark.
func TestSessionsMatchTheModel(t *testing.T) {
	const gap, bound = 1000, 300
	var late, joined, sessions int64
	defer func() {
		// The inputs exercise what they are meant to.
		if !t.Failed() && (late == 0 || joined == 0 || sessions < 1000) {
			t.Errorf("%d late rows, %d rows behind their watermark that joined, %d sessions", late, joined, sessions)
		}
	}()
	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 7))
		steps := randomSessionSteps(rng, 200, gap, bound)
		ref := &refSessions{gap: gap, wm: pipeline.MinTime, held: map[string][]row{}}
		var want [][]string
		for _, s := range steps {
			if s.wm == nil {
				for _, r := range s.rows {
					ref.add(r)
				}
				continue
			}
			want = append(want, ref.fire(*s.wm))
			sessions += int64(len(want[len(want)-1]))
		}
		late += ref.late
		joined += ref.joined
		aggs := append(sessionAggs(), CountDistinct("pages", "page"))
		for _, mode := range []string{"plain", "snapshot", "shards"} {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			op := newSessionOp(t, mem, gap*time.Millisecond, aggs, pipeline.OperatorEnv{})
			op.minCompact = 8 // compact often
			var got [][]string
			for i, s := range steps {
				got = append(got, runSession(t, mem, op, []step{s})...)
				if s.wm == nil || i%2 == 0 {
					continue
				}
				switch mode {
				case "snapshot":
					state, err := op.Snapshot()
					if err != nil {
						t.Fatal(err)
					}
					op = newSessionOp(t, mem, gap*time.Millisecond, aggs, pipeline.OperatorEnv{})
					if err := op.Restore(state); err != nil {
						t.Fatal(err)
					}
				case "shards":
					op = reshard(t, mem, op, aggs)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("seed %d, %s: got\n%q\nwant\n%q", seed, mode, got, want)
			}
			if c := op.Counters(); c["late_rows"] != ref.late || c["open_sessions"] != 0 {
				t.Fatalf("seed %d, %s: counters %v, want late_rows %d", seed, mode, c, ref.late)
			}
			mem.AssertSize(t, 0)
		}
	}
}

// reshard moves op's state through SnapshotShards into two instances, one
// per partition of the keys, and then back into one, as a job that changes
// its parallelism twice does.
func reshard(t *testing.T, mem memory.Allocator, op *SessionOperator, aggs []Agg) *SessionOperator {
	t.Helper()
	common, shards, err := op.SnapshotShards()
	if err != nil {
		t.Fatal(err)
	}
	parts := map[string][][]byte{}
	for name, p := range shards {
		parts[name] = [][]byte{p}
	}
	var commons [][]byte
	all := map[string][][]byte{}
	for i := range 2 {
		inst := newSessionOp(t, mem, time.Duration(op.p.gap)*time.Millisecond, aggs, pipeline.OperatorEnv{Partition: i, Partitions: 2})
		if err := inst.RestoreShards([][]byte{common}, parts); err != nil {
			t.Fatal(err)
		}
		c, sh, err := inst.SnapshotShards()
		if err != nil {
			t.Fatal(err)
		}
		commons = append(commons, c)
		for name, p := range sh {
			all[name] = append(all[name], p)
		}
	}
	back := newSessionOp(t, mem, time.Duration(op.p.gap)*time.Millisecond, aggs, pipeline.OperatorEnv{})
	if err := back.RestoreShards(commons, all); err != nil {
		t.Fatal(err)
	}
	return back
}
