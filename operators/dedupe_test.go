package operators

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/pipeline"
)

var dedupeSchema = arrow.NewSchema([]arrow.Field{
	{Name: "event_id", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "ts", Type: arrow.FixedWidthTypes.Timestamp_ms, Nullable: true},
	{Name: "n", Type: arrow.PrimitiveTypes.Int64},
}, nil)

// dedupeRow is a row of dedupeSchema; key "" is a null key, ts -1 a null time.
type dedupeRow struct {
	key string
	ts  int64
	n   int64
}

func dedupeBatch(mem memory.Allocator, rows []dedupeRow) *pipeline.Batch {
	b := array.NewRecordBuilder(mem, dedupeSchema)
	defer b.Release()
	for _, r := range rows {
		if r.key == "" {
			b.Field(0).AppendNull()
		} else {
			b.Field(0).(*array.StringBuilder).Append(r.key)
		}
		if r.ts < 0 {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(r.ts))
		}
		b.Field(2).(*array.Int64Builder).Append(r.n)
	}
	return &pipeline.Batch{Rec: b.NewRecordBatch(), Shard: "shard-1"}
}

// runDedupe passes batches through op and returns the n of the rows kept.
func runDedupe(t testing.TB, mem memory.Allocator, op pipeline.Operator, batches [][]dedupeRow) []int64 {
	t.Helper()
	var kept []int64
	for _, rows := range batches {
		main, dead := collect(t, op, dedupeBatch(mem, rows))
		if len(dead) > 0 {
			t.Fatal("dead letters from dedupe")
		}
		for _, b := range main {
			kept = append(kept, b.Rec.Column(2).(*array.Int64).Int64Values()...)
			b.Release()
		}
	}
	return kept
}

func newDedupe(t testing.TB, mem memory.Allocator, ttl time.Duration, hash func([]byte) uint64) *DedupeOperator {
	t.Helper()
	stage := Dedupe("event_id", "ts", ttl).(*dedupeStage)
	stage.hash = hash
	out, op := newOp(t, mem, stage, dedupeSchema)
	if !out.Equal(dedupeSchema) {
		t.Fatalf("output schema %s", out)
	}
	return op.(*DedupeOperator)
}

// sameHash sends every key to one hash: every second key collides.
func sameHash([]byte) uint64 { return 7 }

func TestDedupe(t *testing.T) {
	const ttl = 100 // ms
	tests := []struct {
		name    string
		batches [][]dedupeRow
		want    []int64
	}{
		{"within the ttl, in one batch and across batches",
			[][]dedupeRow{{{"a", 10, 1}, {"b", 11, 2}, {"a", 10, 3}}, {{"a", 12, 4}, {"b", 110, 5}, {"c", 111, 6}}},
			[]int64{1, 2, 6}},
		{"at the ttl exactly still a duplicate, beyond it kept",
			[][]dedupeRow{{{"a", 0, 1}}, {{"a", 100, 2}}, {{"a", 101, 3}}, {{"a", 150, 4}}},
			[]int64{1, 3}},
		{"expired by another key's time",
			[][]dedupeRow{{{"a", 0, 1}, {"z", 500, 2}, {"a", 0, 3}, {"a", 450, 4}, {"a", 460, 5}}},
			[]int64{1, 2, 3, 4}},
		{"out of order within the ttl",
			[][]dedupeRow{{{"a", 50, 1}, {"b", 120, 2}, {"a", 30, 3}, {"c", 40, 4}, {"c", 60, 5}}},
			[]int64{1, 2, 4}},
		{"too late to remember",
			// clock 300: "a" at 150 is older than 300-100, kept, not remembered
			[][]dedupeRow{{{"x", 300, 1}, {"a", 150, 2}, {"a", 150, 3}, {"a", 250, 4}, {"a", 260, 5}}},
			[]int64{1, 2, 3, 4}},
		{"null keys are never duplicates, null times count as the clock",
			[][]dedupeRow{{{"", 10, 1}, {"", 10, 2}, {"a", -1, 3}, {"a", 10, 4}, {"b", 200, 5}, {"a", -1, 6}}},
			[]int64{1, 2, 3, 5, 6}},
		{"a whole batch of duplicates emits nothing",
			[][]dedupeRow{{{"a", 1, 1}, {"b", 1, 2}}, {{"b", 2, 3}, {"a", 2, 4}}, {{"c", 3, 5}}},
			[]int64{1, 2, 5}},
	}
	for _, tc := range tests {
		for _, hash := range []struct {
			name string
			f    func([]byte) uint64
		}{{"maphash", nil}, {"colliding", sameHash}} {
			t.Run(tc.name+"/"+hash.name, func(t *testing.T) {
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
				defer mem.AssertSize(t, 0)
				op := newDedupe(t, mem, ttl*time.Millisecond, hash.f)
				if got := runDedupe(t, mem, op, tc.batches); !slices.Equal(got, tc.want) {
					t.Errorf("kept %v, want %v", got, tc.want)
				}
				rows := 0
				for _, b := range tc.batches {
					rows += len(b)
				}
				if got := op.Counters()["duplicate_rows"]; got != int64(rows-len(tc.want)) {
					t.Errorf("duplicate_rows %d, want %d", got, rows-len(tc.want))
				}
			})
		}
	}
}

// TestDedupeHashCollision: keys that share a hash are told apart by their
// bytes, expire independently, and survive a snapshot.
func TestDedupeHashCollision(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	op := newDedupe(t, mem, 100*time.Millisecond, sameHash)
	got := runDedupe(t, mem, op, [][]dedupeRow{
		{{"a", 0, 1}, {"b", 50, 2}, {"c", 60, 3}, {"b", 60, 4}, {"a", 60, 5}, {"c", 61, 6}},
		{{"d", 120, 7}, {"a", 120, 8}, {"b", 120, 9}}, // a expired at clock 120, b and c not
	})
	if want := []int64{1, 2, 3, 7, 8}; !slices.Equal(got, want) {
		t.Fatalf("kept %v, want %v", got, want)
	}
	if len(op.keys.m) != 1 || len(op.keys.more[7]) == 0 {
		t.Fatalf("the keys did not collide: %d in m, %d more", len(op.keys.m), len(op.keys.more[7]))
	}
	state, err := op.SnapshotLocal()
	if err != nil {
		t.Fatal(err)
	}
	back := newDedupe(t, mem, 100*time.Millisecond, sameHash)
	if err := back.RestoreLocal([][]byte{state}); err != nil {
		t.Fatal(err)
	}
	got = runDedupe(t, mem, back, [][]dedupeRow{{{"a", 121, 10}, {"b", 121, 11}, {"c", 121, 12}, {"d", 121, 13}, {"e", 121, 14}}})
	if want := []int64{14}; !slices.Equal(got, want) {
		t.Fatalf("after restore kept %v, want %v", got, want)
	}
}

// refDedupe is the specification of Dedupe, as plainly as it can be written.
type refDedupe struct {
	ttl   int64
	clock int64
	seen  map[string]int64
}

func (r *refDedupe) keep(row dedupeRow) bool {
	t := row.ts
	if t < 0 {
		t = r.clock
	}
	r.clock = max(r.clock, t)
	if row.key == "" {
		return true
	}
	if st, ok := r.seen[row.key]; ok && st >= r.clock-r.ttl {
		return false
	}
	if t >= r.clock-r.ttl {
		r.seen[row.key] = t
	}
	return true
}

// TestDedupeMatchesTheSpecification runs random streams (repeats, late rows,
// null keys and times, a hash that collides often) through Dedupe,
// snapshotting it into a new instance at random batch boundaries, and
// through refDedupe: the rows kept must be the same.
func TestDedupeMatchesTheSpecification(t *testing.T) {
	firstByte := func(b []byte) uint64 {
		if len(b) == 0 {
			return 0
		}
		return uint64(b[0])
	}
	for seed := uint64(1); seed <= 40; seed++ {
		rng := rand.New(rand.NewPCG(seed, 9))
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		ttl := int64(1 + rng.IntN(200))
		hash := []func([]byte) uint64{nil, firstByte, sameHash}[seed%3]
		op := newDedupe(t, mem, time.Duration(ttl)*time.Millisecond, hash)
		ref := &refDedupe{ttl: ttl, clock: -1 << 62, seen: map[string]int64{}}
		var want, got []int64
		ts, n := int64(1000), int64(0)
		restores := 0
		for range 60 {
			var rows []dedupeRow
			for range rng.IntN(80) {
				n++
				ts += int64(rng.IntN(10))
				if rng.IntN(300) == 0 { // a jump far ahead
					ts += int64(rng.IntN(int(ttl) * 50))
				}
				row := dedupeRow{key: fmt.Sprintf("k%d", rng.IntN(60)), ts: ts - int64(rng.IntN(int(ttl)*2)), n: n}
				switch rng.IntN(30) {
				case 0:
					row.key = ""
				case 1:
					row.ts = -1
				}
				rows = append(rows, row)
				if ref.keep(row) {
					want = append(want, row.n)
				}
			}
			got = append(got, runDedupe(t, mem, op, [][]dedupeRow{rows})...)
			checkSlots(t, op.keys)
			if rng.IntN(5) == 0 {
				state, err := op.SnapshotLocal()
				if err != nil {
					t.Fatal(err)
				}
				op = newDedupe(t, mem, time.Duration(ttl)*time.Millisecond, hash)
				if err := op.RestoreLocal([][]byte{state}); err != nil {
					t.Fatal(err)
				}
				restores++
			}
		}
		mem.AssertSize(t, 0)
		if !slices.Equal(got, want) {
			t.Fatalf("seed %d (ttl %d, %d restores): kept %d rows, want %d; first difference at %d", seed, ttl, restores, len(got), len(want), firstDiff(got, want))
		}
		if len(want) == int(n) || len(want) == 0 {
			t.Fatalf("seed %d: %d of %d rows kept: the stream tests nothing", seed, len(want), n)
		}
	}
}

// checkSlots fails when two buckets share an arena.
func checkSlots(t *testing.T, k *dedupeKeys) {
	t.Helper()
	owner := map[int]int64{}
	for b := range k.buckets {
		s := int(uint64(b) % dedupeSlots)
		if o, ok := owner[s]; ok {
			t.Fatalf("buckets %d and %d share arena %d", o, b, s)
		}
		owner[s] = b
	}
}

func firstDiff(a, b []int64) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestDedupeUnionOfParents: a child shard starts with every key of its
// parents, on the clock of the parent furthest behind.
func TestDedupeUnionOfParents(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	const ttl = 100 * time.Millisecond
	a, b := newDedupe(t, mem, ttl, nil), newDedupe(t, mem, ttl, nil)
	runDedupe(t, mem, a, [][]dedupeRow{{{"a1", 1000, 1}, {"both", 1000, 2}}})
	runDedupe(t, mem, b, [][]dedupeRow{{{"b-old", 850, 3}, {"b1", 950, 4}, {"both", 940, 5}}})
	sa, _ := a.SnapshotLocal()
	sb, _ := b.SnapshotLocal()
	child := newDedupe(t, mem, ttl, nil)
	if err := child.RestoreLocal([][]byte{sa, sb}); err != nil {
		t.Fatal(err)
	}
	if child.keys.clock != 1000 {
		t.Errorf("child's clock %d, want 1000", child.keys.clock)
	}
	// b-old is more than ttl behind the child's clock: forgotten.
	got := runDedupe(t, mem, child, [][]dedupeRow{{{"b1", 990, 6}, {"a1", 990, 7}, {"both", 990, 8}, {"new", 990, 9}, {"b-old", 990, 10}}})
	if want := []int64{9, 10}; !slices.Equal(got, want) {
		t.Errorf("child kept %v, want %v", got, want)
	}
	if err := child.RestoreLocal([][]byte{sa, []byte("junk")}); err == nil {
		t.Error("restore of a junk state succeeded")
	}
}

// TestDedupeMemoryIsBounded: over a long stream of unique keys the shard
// holds only the keys of about one ttl, and their arenas are reused.
func TestDedupeMemoryIsBounded(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	const ttl = 1000 // ms; one key per ms
	op := newDedupe(t, mem, ttl*time.Millisecond, nil)
	maxKeys, maxArena := 0, 0
	for batch := range 200 {
		rows := make([]dedupeRow, 500, 550)
		for i := range rows {
			n := int64(batch*500 + i)
			rows[i] = dedupeRow{key: fmt.Sprintf("event-%040d", n), ts: n, n: n}
		}
		for i := range 50 { // retries of rows up to 950ms older than the clock, across arenas
			if n := int64(batch*500 - 1 - i*9); n >= 0 {
				rows = append(rows, dedupeRow{key: fmt.Sprintf("event-%040d", n), ts: n, n: -1})
			}
		}
		if got := runDedupe(t, mem, op, [][]dedupeRow{rows}); len(got) != 500 || slices.Contains(got, -1) {
			t.Fatalf("batch %d: kept %d rows, want the 500 unique ones", batch, len(got))
		}
		arena := 0
		for _, a := range op.keys.arenas {
			arena += cap(a)
		}
		maxKeys, maxArena = max(maxKeys, op.keys.len), max(maxArena, arena)
	}
	// Live: 1001 keys; expiry in eighths of ttl and whole batches add 125+500.
	if maxKeys > 1001+125+500 || maxKeys < 1001 {
		t.Errorf("held up to %d keys, want about a ttl's 1001", maxKeys)
	}
	if keyBytes := 46 * (1001 + 125 + 500); maxArena > 3*keyBytes {
		t.Errorf("arena grew to %d bytes for keys of about %d", maxArena, keyBytes)
	}
	c := op.Counters()
	if c["dedupe_keys"] != int64(op.keys.len) || c["dedupe_key_bytes"] <= 0 || c["duplicate_rows"] != 199*50 {
		t.Errorf("counters %v", c)
	}
}

func TestDedupeBindErrors(t *testing.T) {
	tests := []struct {
		stage pipeline.Stage
		want  string
	}{
		{Dedupe("nope", "ts", time.Minute), `key: column "nope" not in schema`},
		{Dedupe("event_id", "nope", time.Minute), `event time: column "nope" not in schema`},
		{Dedupe("event_id", "n", time.Minute), `event-time column "n" is int64, want a timestamp`},
		{Dedupe("ts", "ts", 0), "ttl 0s: want at least 1ms"},
		{Dedupe("event_id", "ts", time.Microsecond), "ttl 1µs: want at least 1ms"},
	}
	for _, tc := range tests {
		_, _, err := tc.stage.Bind(dedupeSchema)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Bind: %v, want %q", tc.stage.Name(), err, tc.want)
		}
	}
	if got := Dedupe("event_id", "ts", 10*time.Minute).Name(); got != "dedupe(event_id, ts, 10m0s)" {
		t.Errorf("name %q", got)
	}
}

// TestDedupeIntegerKeys: a fixed-width key column is compared by value.
func TestDedupeIntegerKeys(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	_, op := newOp(t, mem, Dedupe("n", "ts", time.Second), dedupeSchema)
	b := dedupeBatch(mem, []dedupeRow{{"a", 1, 5}, {"b", 2, 6}, {"c", 3, 5}, {"d", 4, 1 << 40}, {"e", 5, 6}})
	main, _ := collect(t, op, b.WithRecord(b.Rec.NewSlice(1, 5)))
	b.Release()
	defer releaseAll(main)
	if len(main) != 1 || fmt.Sprint(main[0].Rec.Column(0)) != `["b" "c" "d"]` {
		t.Fatalf("kept %v", main)
	}
}

// FuzzDedupeRestore: a state that is not one SnapshotLocal returned is
// refused or restored, never a panic; one that is restored snapshots again
// to a state that restores.
func FuzzDedupeRestore(f *testing.F) {
	k := newDedupeKeys(100, sameHash)
	for i, key := range []string{"a", "b", "a", "ccc"} {
		k.see([]byte(key), int64(i*10))
	}
	f.Add(k.snapshot())
	f.Add([]byte{1, 0, 0})
	f.Add([]byte{1, 2, 1, 4, 1})
	f.Fuzz(func(t *testing.T, state []byte) {
		k := newDedupeKeys(100, sameHash)
		if err := k.restore([][]byte{state}); err != nil {
			return
		}
		again := newDedupeKeys(100, sameHash)
		if err := again.restore([][]byte{k.snapshot()}); err != nil || again.len != k.len {
			t.Fatalf("restored %d keys, its snapshot restores %d: %v", k.len, again.len, err)
		}
	})
}
