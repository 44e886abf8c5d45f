package windows

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/shardflow/shardflow/internal/cputime"
)

// BenchmarkDictLookup looks up batches of 4096 strings in a string dict that
// already holds them all: user ids drawn from 100k (the hot path of
// CountDistinct) and pages drawn from 50 (of a key).
func BenchmarkDictLookup(b *testing.B) {
	for _, bc := range []struct {
		name   string
		format string
		n      int
	}{
		{"users", "user-%08d", 100_000},
		{"pages", "/page/%d", 50},
	} {
		b.Run(bc.name, func(b *testing.B) { benchDictLookup(b, bc.format, bc.n) })
	}
}

func benchDictLookup(b *testing.B, format string, card int) {
	mem := memory.NewGoAllocator()
	rng := rand.New(rand.NewPCG(1, 2))
	var arrs []arrow.Array
	for range 64 {
		sb := array.NewStringBuilder(mem)
		for range benchRows {
			sb.Append(fmt.Sprintf(format, rng.IntN(card)))
		}
		arrs = append(arrs, sb.NewArray())
		sb.Release()
	}
	defer func() {
		for _, a := range arrs {
			a.Release()
		}
	}()
	d := newDict(pStr)
	sel := make([]int32, benchRows)
	for i := range sel {
		sel[i] = int32(i)
	}
	dst := make([]uint32, benchRows)
	for _, a := range arrs {
		d.lookup(a, sel, dst, false)
	}
	b.ReportAllocs()
	rows := 0
	var cpu0 time.Duration
	for i := 0; b.Loop(); i++ {
		if i == 0 {
			cpu0 = cputime.Process()
		}
		d.lookup(arrs[i%len(arrs)], sel, dst, false)
		rows += benchRows
	}
	cpu := cputime.Process() - cpu0
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	if cpu > 0 {
		b.ReportMetric(float64(rows)/cpu.Seconds(), "rows/cpu-s")
	}
}

// withStringHash makes the string dicts made until the end of the test hash
// their values with h and keep at most small of them in their map.
func withStringHash(t *testing.T, h func([]byte) uint64, small int) {
	oldHash, oldSmall := testStringHash, maxSmallStrs
	testStringHash, maxSmallStrs = h, small
	t.Cleanup(func() { testStringHash, maxSmallStrs = oldHash, oldSmall })
}

// smallLimits are limits of the map of string dicts for the tests: none (all
// in the table), a few (moving to the table early on), the default (the map
// only, for these tests' few values).
var smallLimits = []int{0, 8, maxSmallStrs}

// collidingHashes are hashes under which many different strings share a
// hash, a home slot or the hash bits a slot keeps.
func collidingHashes() []struct {
	name string
	h    func([]byte) uint64
} {
	real := stringHash
	return []struct {
		name string
		h    func([]byte) uint64
	}{
		{"constant", func([]byte) uint64 { return 0x9e37_79b9_7f4a_7c15 }},
		{"two bits", func(b []byte) uint64 { return real(b) & 3 }},
		{"same home slot", func(b []byte) uint64 { return real(b) &^ 0xffff_ffff }},
		{"same kept bits", func(b []byte) uint64 { return real(b) & 0xffff_ffff }},
	}
}

// Under a hash that collides, every different string still gets its own id,
// and the same string always the same one, through lookups of Arrow columns
// (with nulls), interning and a dict rebuilt from another.
func TestDictExactUnderHashCollisions(t *testing.T) {
	vals := []string{"", "a", "aa", "ab", "b", "ba", "user-1", "user-10", "user-100", "\x00", "\x00\x00", "é", "a\x00"}
	for i := range 300 {
		vals = append(vals, fmt.Sprintf("u%d", i))
	}
	long := strings.Repeat("0123456789abcdef", 300)
	for _, n := range []int{7, 8, 9, 15, 16, 17, 63, 64, 65, 4000, 4799} {
		vals = append(vals, long[:n], long[1:n+1])
	}
	for _, hc := range collidingHashes() {
		for _, small := range smallLimits {
			t.Run(fmt.Sprintf("%s/map %d", hc.name, small), func(t *testing.T) {
				testDictExact(t, vals, hc.h, small)
			})
		}
	}
}

func testDictExact(t *testing.T, vals []string, h func([]byte) uint64, small int) {
	withStringHash(t, h, small)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rng := newRand(5)
	d := newDict(pStr)
	ids := map[string]uint32{}
	for round := range 4 {
		sb := array.NewStringBuilder(mem)
		var want []*string
		for range 500 {
			if rng.IntN(20) == 0 {
				sb.AppendNull()
				want = append(want, nil)
				continue
			}
			v := vals[rng.IntN(len(vals))]
			sb.Append(v)
			want = append(want, &v)
		}
		arr := sb.NewArray()
		sb.Release()
		sel := make([]int32, 0, arr.Len())
		for i := range arr.Len() {
			if round%2 == 0 || i%3 != 0 { // a selection with gaps too
				sel = append(sel, int32(i))
			}
		}
		dst := make([]uint32, arr.Len())
		d.lookup(arr, sel, dst, true)
		arr.Release()
		for _, i := range sel {
			switch w := want[i]; {
			case w == nil:
				if !d.isNull(dst[i]) {
					t.Fatalf("null row %d got id %d, not the null id", i, dst[i])
				}
			case d.isNull(dst[i]) || d.str(dst[i]) != *w:
				t.Fatalf("row %d (%q) got id %d (%q)", i, *w, dst[i], d.str(dst[i]))
			default:
				if id, ok := ids[*w]; ok && id != dst[i] {
					t.Fatalf("%q got id %d, earlier %d", *w, dst[i], id)
				}
				ids[*w] = dst[i]
			}
		}
	}
	nonNull := d.len()
	if d.nullID >= 0 {
		nonNull--
	}
	if nonNull != len(ids) {
		t.Fatalf("%d values interned, want %d", nonNull, len(ids))
	}
	for _, v := range vals {
		before := d.len()
		id := d.internString(v)
		if want, seen := ids[v]; seen && id != want || !seen && id != uint32(before) {
			t.Fatalf("intern %q: id %d, want %d (seen %v)", v, id, want, seen)
		}
		ids[v] = id
	}
	copied := newDict(pStr)
	for id := range uint32(d.len()) {
		if got := copied.internFrom(d, id); got != id {
			t.Fatalf("internFrom id %d gave %d", id, got)
		}
	}
	for v, id := range ids {
		if got := copied.internString(v); got != id {
			t.Fatalf("copy: %q has id %d, want %d", v, got, id)
		}
	}
}

// Under hashes that collide, the aggregates (string keys and CountDistinct
// over strings among them) match the reference: straight, snapshotted and
// restored after every step, with dicts compacting, and run in partitions
// restored into another number of them.
func TestCountsExactUnderHashCollisions(t *testing.T) {
	for _, hc := range collidingHashes() {
		for _, small := range smallLimits[:2] {
			t.Run(fmt.Sprintf("%s/map %d", hc.name, small), func(t *testing.T) {
				testCountsExact(t, hc.h, small)
			})
		}
	}
}

func testCountsExact(t *testing.T, h func([]byte) uint64, small int) {
	withStringHash(t, h, small)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	keys := []string{"page"}
	spec := Tumbling(10 * time.Second).Aggregate(refAggs()...)
	steps := randomSteps(newRand(21), 60, 1_700_000_000_000)
	want := reference(steps, keys, 10_000, 10_000, 0)

	compareFired(t, runSteps(t, mem, newTestOp(t, mem, spec, keys), steps), want)

	op := newTestOp(t, mem, spec, keys)
	op.minCompact, op.compact = 1, 1
	var got []fired
	for i := range steps {
		got = append(got, runSteps(t, mem, op, steps[i:i+1])...)
		state, err := op.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		op = newTestOp(t, mem, spec, keys)
		op.minCompact, op.compact = 1, 1
		if err := op.Restore(state); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	compareFired(t, got, want)

	cut := len(steps) / 2
	a := newPartitioned(t, mem, spec, keys, 3)
	rows := a.run(steps[:cut])
	states := a.snapshots()
	b := newPartitioned(t, mem, spec, keys, 2)
	for _, op := range b.ops {
		if err := op.RestoreShards(states, nil); err != nil {
			t.Fatal(err)
		}
	}
	rows = append(rows, b.run(steps[cut:])...)
	for i, w := range sortedFired(want) {
		if !slices.Equal(rows[i], w) {
			t.Fatalf("partitioned, watermark step %d:\n got %q\nwant %q", i, rows[i], w)
		}
	}
}

// A snapshot does not depend on the hash (each process seeds its own): one
// taken under one hash restores under another and carries on as if never
// interrupted; and the snapshot of snapshotWithState's state is byte for
// byte the one the code before string dicts were hashed wrote
// (testdata/snapshot-v1.bin), which restores and carries on alike.
func TestSnapshotIndependentOfStringHash(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	spec, state := snapshotWithState(t, mem)
	keys := []string{"page", "flag"}
	steps := randomSteps(newRand(3), 8, 1_700_000_000_000)
	want := runSteps(t, mem, newBoundOp(t, mem, spec, keys, lenientBound), steps)

	old, err := os.ReadFile("testdata/snapshot-v1.bin")
	if err != nil {
		t.Fatal(err)
	}
	// Version 2 changed only the version byte for these aggregates.
	if !bytes.Equal(old[:4], state[:4]) || state[4] != snapVersionV2 || !bytes.Equal(old[5:len(old)-4], state[5:len(state)-4]) {
		t.Errorf("snapshot of the same state differs from testdata/snapshot-v1.bin (%d bytes, want %d)", len(state), len(old))
	}
	for _, hc := range collidingHashes()[:2] {
		withStringHash(t, hc.h, 0)
		op := newBoundOp(t, mem, spec, keys, lenientBound)
		if err := op.Restore(old); err != nil {
			t.Fatalf("%s: %v", hc.name, err)
		}
		got := runSteps(t, mem, op, steps[len(steps)-1:])
		if !slices.Equal(got[0].rows, want[len(want)-1].rows) {
			t.Errorf("%s: after restore\n got %q\nwant %q", hc.name, got[0].rows, want[len(want)-1].rows)
		}
	}
}
