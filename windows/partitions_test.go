package windows

import (
	"context"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/shardflow/shardflow/pipeline"
)

// partitioned runs the instances of one window stage as a job with n
// partitions does: every batch's rows split by the hash of their keys, every
// watermark to every instance.
type partitioned struct {
	t    testing.TB
	mem  memory.Allocator
	cols []int
	ops  []*Operator
}

func newPartitioned(t testing.TB, mem memory.Allocator, spec *Spec, keys []string, n int) *partitioned {
	t.Helper()
	newOp := bindTestStage(t, spec, keys)
	p := &partitioned{t: t, mem: mem}
	for _, k := range keys {
		p.cols = append(p.cols, testSchema.FieldIndices(k)[0])
	}
	group := &pipeline.OperatorGroup{}
	for i := range n {
		op, err := newOp(pipeline.OperatorEnv{Mem: mem, Partition: i, Partitions: n, Group: group, Bound: testBound})
		if err != nil {
			t.Fatal(err)
		}
		p.ops = append(p.ops, op.(*Operator))
	}
	return p
}

// run feeds steps and returns, per watermark step, the rows every instance
// emitted, sorted.
func (p *partitioned) run(steps []step) [][]string {
	p.t.Helper()
	ctx := context.Background()
	var out [][]string
	for _, s := range steps {
		if s.wm == nil {
			b := stepBatch(p.t, p.mem, s)
			h := make([]pipeline.KeyHash, b.Len())
			pipeline.HashKeys(b.Rec, p.cols, h)
			for i, op := range p.ops {
				var rows []int32
				for r, x := range h {
					if x.Partition(len(p.ops)) == i {
						rows = append(rows, int32(r))
					}
				}
				if len(rows) == 0 {
					continue
				}
				b.Rec.Retain()
				pb := b.WithRecord(b.Rec)
				pb.Rows = rows
				if err := op.Process(ctx, pb, nil); err != nil {
					p.t.Fatal(err)
				}
			}
			b.Release()
			continue
		}
		var rows []string
		for _, op := range p.ops {
			err := op.OnWatermark(ctx, *s.wm, func(b *pipeline.Batch) {
				rows = append(rows, recordRows(b.Rec)...)
				b.Release()
			})
			if err != nil {
				p.t.Fatal(err)
			}
		}
		slices.Sort(rows)
		out = append(out, rows)
	}
	return out
}

// counters sums the instances' counters, as the job does.
func (p *partitioned) counters() map[string]int64 {
	sum := map[string]int64{}
	for _, op := range p.ops {
		for k, v := range op.Counters() {
			sum[k] += v
		}
	}
	return countsOnly(sum)
}

func (p *partitioned) snapshots() [][]byte {
	p.t.Helper()
	var states [][]byte
	for _, op := range p.ops {
		st, err := op.Snapshot()
		if err != nil {
			p.t.Fatal(err)
		}
		states = append(states, st)
	}
	return states
}

func sortedFired(fs []fired) [][]string {
	out := make([][]string, len(fs))
	for i, f := range fs {
		out[i] = slices.Sorted(slices.Values(f.rows))
	}
	return out
}

// Run in partitions of the keys, restored at a random step into another
// number of partitions, a window stage emits the rows of one instance, and
// the instances' counters sum to one instance's.
func TestPartitionsEqualOneInstance(t *testing.T) {
	tests := []struct {
		name     string
		assigner Assigner
		keys     []string
	}{
		{"tumbling by page", Tumbling(10 * time.Second), []string{"page"}},
		{"sliding by page", Sliding(9*time.Second, 3*time.Second), []string{"page"}},
		{"multi-key", Tumbling(5 * time.Second), []string{"page", "qty", "flag"}},
		{"integer key", Tumbling(5 * time.Second), []string{"uid"}},
		{"dense distinct", Tumbling(30 * time.Second), []string{"flag"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := range uint64(4) {
				rng := rand.New(rand.NewPCG(seed, 7))
				steps := randomSteps(rng, 60, 1_700_000_000_000)
				cut := rng.IntN(len(steps))
				from, to := []int{2, 3, 4, 1}[seed], []int{3, 1, 2, 4}[seed]
				spec := Aggregate(tt.assigner, refAggs()...)
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())

				one := newTestOp(t, mem, spec, tt.keys)
				want := sortedFired(runSteps(t, mem, one, steps))
				wantC := countsOnly(one.Counters())

				a := newPartitioned(t, mem, spec, tt.keys, from)
				got := a.run(steps[:cut])
				states := a.snapshots()
				b := newPartitioned(t, mem, spec, tt.keys, to)
				for _, op := range b.ops {
					if err := op.RestoreShards(states, nil); err != nil {
						t.Fatal(err)
					}
				}
				got = append(got, b.run(steps[cut:])...)
				for i := range want {
					if !slices.Equal(got[i], want[i]) {
						t.Fatalf("seed %d, %d partitions restored into %d at step %d: watermark step %d:\n got %q\nwant %q", seed, from, to, cut, i, got[i], want[i])
					}
				}
				if c := b.counters(); !maps.Equal(c, wantC) {
					t.Errorf("seed %d: counters %v, want %v", seed, c, wantC)
				}
				mem.AssertSize(t, 0)
			}
		})
	}
}

// The partition of a key the window stage restores is the one the job
// routed its rows to, for every key type and nulls.
func TestKeyHashIsThePipelines(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	steps := randomSteps(rng, 10, 1_700_000_000_000)
	mem := memory.NewGoAllocator()
	keys := []string{"page", "uid", "qty", "big", "flag"}
	var cols []int
	for _, k := range keys {
		cols = append(cols, testSchema.FieldIndices(k)[0])
	}
	kt := newKeyTable(bindPhys(t, keys))
	checked := 0
	for _, s := range steps {
		if s.wm != nil {
			continue
		}
		b := buildBatch(t, mem, s.shard, s.rows)
		n := b.Len()
		h := make([]pipeline.KeyHash, n)
		pipeline.HashKeys(b.Rec, cols, h)
		kids := make([]uint32, n)
		all := make([]int32, n)
		for i := range all {
			all[i] = int32(i)
		}
		kt.lookup(b.Rec, cols, all, kids)
		for i := range n {
			if got := keyHash(kt, kids[i]); got != h[i] {
				t.Fatalf("row %d: key hash %x, the pipeline's %x", i, got, h[i])
			}
			checked++
		}
		b.Release()
	}
	if checked == 0 {
		t.Fatal("no row checked")
	}
}

// bindPhys returns the physical types of the key columns as a stage keyed by
// them binds them.
func bindPhys(t *testing.T, keys []string) []physType {
	t.Helper()
	op := newTestOp(t, memory.NewGoAllocator(), Aggregate(Tumbling(time.Second), Count("n")), keys)
	var phys []physType
	for _, d := range op.keys.cols {
		phys = append(phys, d.phys)
	}
	return phys
}

// A shard's part of a snapshot restores alone: an operator given only that
// part (and the common state) fires, at the end of the input, what that
// shard's rows alone make; given every part it goes on as the operator that
// took the snapshot.
// TestShardStateRestoresAlone: a shard's part of a snapshot restores on its
// own into what that shard alone would have built, and every part together
// into the whole. With panes the part carries the shard's level states too
// (rows late for some of a pane's windows), under the shard's own name.
func TestShardStateRestoresAlone(t *testing.T) {
	tests := []struct {
		name                string
		spec                *Spec
		size, slide, offset int64
	}{
		{"tumbling", Aggregate(Tumbling(30*time.Second), refAggs()...), 30_000, 30_000, 0},
		{"sliding on panes", Aggregate(Sliding(60*time.Second, 2*time.Second).WithOffset(time.Second), refAggs()...), 60_000, 2000, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			levels := 0
			for seed := range uint64(4) {
				levels += checkShardStateRestoresAlone(t, seed, tt.spec, tt.size, tt.slide, tt.offset)
			}
			if tt.slide < tt.size && levels == 0 {
				t.Fatal("no level state in any seed: the test did not test the panes' late rows")
			}
		})
	}
}

// checkShardStateRestoresAlone runs one seed and returns how many level
// states the operator held when it was snapshot.
func checkShardStateRestoresAlone(t *testing.T, seed uint64, spec *Spec, size, slide, offset int64) int {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 11))
	steps := randomSteps(rng, 60, 1_700_000_000_000)
	cut := 1 + rng.IntN(len(steps)-1)
	end := step{wm: ptr(pipeline.MaxTime)}
	keys := []string{"page"}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())

	op := newTestOp(t, mem, spec, keys)
	runSteps(t, mem, op, steps[:cut])
	levels := 0
	for _, sh := range op.byName {
		if _, j := shardLevel(sh.name); j > 0 {
			levels++
		}
	}
	common, parts, err := op.SnapshotShards()
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) == 0 {
		t.Fatalf("seed %d: no shard holds state after %d steps", seed, cut)
	}
	fired := 0
	for name, part := range parts {
		if base, _ := shardLevel(name); base != name || !strings.HasPrefix(name, "shard-") {
			t.Fatalf("seed %d: a part is named %q, not after a shard", seed, name)
		}
		alone := newTestOp(t, mem, spec, keys)
		if err := alone.RestoreShards([][]byte{common}, map[string][][]byte{name: {part}}); err != nil {
			t.Fatal(err)
		}
		var mine []step
		for _, s := range steps[:cut] {
			if s.wm != nil || s.shard == name {
				mine = append(mine, s)
			}
		}
		ref := reference(append(mine, end), keys, size, slide, offset)
		want := slices.Sorted(slices.Values(ref[len(ref)-1].rows))
		got := sortedFired(runSteps(t, mem, alone, []step{end}))[0]
		if !slices.Equal(got, want) {
			t.Fatalf("seed %d: shard %s restored alone fired\n %q\nwant %q", seed, name, got, want)
		}
		fired += len(got)
	}
	if fired == 0 {
		t.Fatalf("seed %d: no shard restored alone fired a row: the test did not test", seed)
	}

	whole := newTestOp(t, mem, spec, keys)
	all := map[string][][]byte{}
	for name, part := range parts {
		all[name] = [][]byte{part}
	}
	if err := whole.RestoreShards([][]byte{common}, all); err != nil {
		t.Fatal(err)
	}
	rest := append(slices.Clone(steps[cut:]), end)
	got, want := sortedFired(runSteps(t, mem, whole, rest)), sortedFired(runSteps(t, mem, op, rest))
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Fatalf("seed %d: restored from every shard's part, watermark step %d:\n got %q\nwant %q", seed, i, got[i], want[i])
		}
	}
	if !maps.Equal(countsOnly(whole.Counters()), countsOnly(op.Counters())) {
		t.Errorf("seed %d: counters %v, want %v", seed, whole.Counters(), op.Counters())
	}
	mem.AssertSize(t, 0)
	return levels
}
