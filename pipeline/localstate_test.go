package pipeline

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// distinctStage keeps the first row of each key its shard has seen, and
// remembers the keys in checkpoints (LocalSnapshotter): a stateful
// shard-local operator as small as one can be.
type distinctStage struct{}

func (distinctStage) Name() string { return "distinct(key)" }
func (distinctStage) Bind(in *arrow.Schema) (*arrow.Schema, func(OperatorEnv) (Operator, error), error) {
	if !in.Equal(parsedSchema) {
		return nil, nil, errors.New("distinct: want parsed rows")
	}
	return in, func(env OperatorEnv) (Operator, error) {
		return &distinctOp{mem: env.Mem, seen: map[string]bool{}}, nil
	}, nil
}

type distinctOp struct {
	mem      memory.Allocator
	seen     map[string]bool
	restores int
}

var _ LocalSnapshotter = (*distinctOp)(nil)

func (d *distinctOp) Process(_ context.Context, b *Batch, emit Emit) error {
	defer b.Release()
	rb := array.NewRecordBuilder(d.mem, parsedSchema)
	defer rb.Release()
	ts, keys := b.Rec.Column(0).(*array.Timestamp), b.Rec.Column(1).(*array.String)
	for i := range b.Len() {
		if k := keys.Value(i); !d.seen[k] {
			d.seen[k] = true
			rb.Field(0).(*array.TimestampBuilder).Append(ts.Value(i))
			rb.Field(1).(*array.StringBuilder).Append(k)
		}
	}
	emit(b.WithRecord(rb.NewRecordBatch()))
	return nil
}

// SnapshotLocal: "D" and the sorted keys, one per line.
func (d *distinctOp) SnapshotLocal() ([]byte, error) {
	return []byte("D" + strings.Join(slices.Sorted(maps.Keys(d.seen)), "\n")), nil
}

func (d *distinctOp) RestoreLocal(states [][]byte) error {
	d.restores++
	clear(d.seen)
	for _, st := range states {
		s, ok := strings.CutPrefix(string(st), "D")
		if !ok {
			return fmt.Errorf("distinct: bad state %q", st)
		}
		for k := range strings.SplitSeq(s, "\n") {
			if k != "" {
				d.seen[k] = true
			}
		}
	}
	return nil
}

// lineageInput is p, which splits into c1 and c2, which merge into m; each
// shard holds 60 records over keys that repeat within it and that its
// ancestors already held (as producers' retries do across a reshard). want
// is what a deduplication along the lineage keeps: a key its shard or an
// ancestor has seen is dropped.
func lineageInput(seed uint64) (input map[string][]string, shards []Shard, want []string) {
	rng := rand.New(rand.NewPCG(seed, 3))
	shards = []Shard{{ID: "m", Parents: []string{"c1", "c2"}}, {ID: "c1", Parents: []string{"p"}}, {ID: "c2", Parents: []string{"p"}}, {ID: "p"}}
	input = map[string][]string{}
	seen := map[string]map[string]bool{}
	for _, id := range []string{"p", "c1", "c2", "m"} { // parents first
		seen[id] = map[string]bool{}
		for _, sh := range shards {
			if sh.ID == id {
				for _, p := range sh.Parents {
					maps.Copy(seen[id], seen[p])
				}
			}
		}
		for i := range 60 {
			key := fmt.Sprintf("%s-%d", id, rng.IntN(25)) // new to this shard, or a repeat in it
			if rng.IntN(3) == 0 {
				key = fmt.Sprintf("p-%d", rng.IntN(25)) // maybe seen by an ancestor
			}
			ts := int64(i * 10)
			input[id] = append(input[id], fmt.Sprintf("%d,%s", ts, key))
			if !seen[id][key] {
				seen[id][key] = true
				want = append(want, time.UnixMilli(ts).UTC().Format(time.RFC3339Nano)+"|"+key) // as memSink renders it
			}
		}
	}
	slices.Sort(want)
	return input, shards, want
}

func distinctJob(src Source, out Sink, store CheckpointStore, opts ...Option) (*Job, error) {
	return New("distinct").From(src).Decode(parseStage{}).Apply(distinctStage{}).To(out).
		Checkpoints(store, time.Millisecond).Build(opts...)
}

// TestLocalStateAcrossReshardsAndCrashes kills the job at random points and
// restarts it until it finishes: the committed output is exactly the rows a
// deduplication along the shards' lineage keeps, so the stateful operator's
// state was restored at every restart and each child started from the union
// of its parents' final states.
func TestLocalStateAcrossReshardsAndCrashes(t *testing.T) {
	for seed := uint64(1); seed <= 12; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			rng := rand.New(rand.NewPCG(seed, 4))
			input, shards, want := lineageInput(seed)
			store := &memStore{}
			out := newMemSink("out")
			restarts := 0
			for ; ; restarts++ {
				if restarts > 300 {
					t.Fatal("job did not finish after 300 restarts")
				}
				ctx, crash := context.WithCancel(context.Background())
				var events atomic.Int64
				crashAt := 1 + rng.Int64N(30)
				tick := func() {
					if events.Add(1) == crashAt {
						crash()
					}
				}
				out.onWrite = tick
				src := newSource(mem, input, 1+rng.IntN(20))
				src.shards = shards
				src.onRead = tick
				job, err := distinctJob(src, out, &crashingStore{memStore: store, rng: rng, crash: crash}, WithAllocator(mem))
				if err != nil {
					t.Fatal(err)
				}
				err = job.Run(ctx)
				crash()
				if err == nil {
					break
				}
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("run %d: %v", restarts, err)
				}
			}
			if got := out.rows(); !slices.Equal(got, want) {
				t.Errorf("after %d restarts: rows differ:\n got %d %v\nwant %d %v", restarts, len(got), got, len(want), want)
			}
			if st := store.saved[len(store.saved)-1].Shards["m"]; !st.Finished || !strings.HasPrefix(string(st.Local["distinct(key)"]), "D") {
				t.Errorf("last checkpoint: shard m: finished %v, local state %q", st.Finished, st.Local)
			}
			t.Logf("%d restarts, %d checkpoints", restarts, len(store.saved))
		})
	}
}

// TestParentsLocalStateIsForgotten: once its children have a state of their
// own, which started from it, a finished shard's state leaves the checkpoints.
func TestParentsLocalStateIsForgotten(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	input, shards, want := lineageInput(1)
	src := newSource(mem, input, 7)
	src.shards = shards
	store, out := &memStore{}, newMemSink("out")
	job, err := distinctJob(src, out, store, WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	if err := job.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := out.rows(); !slices.Equal(got, want) {
		t.Fatalf("rows: got %d, want %d", len(got), len(want))
	}
	last := store.saved[len(store.saved)-1]
	for _, id := range []string{"p", "c1", "c2", "m"} {
		st := last.Shards[id]
		if !st.Finished || (st.Local != nil) != (id == "m") {
			t.Errorf("last checkpoint: shard %s: finished %v, local state %q", id, st.Finished, st.Local)
		}
	}
}

// TestLocalStateIsRestoredOnce: a resumed shard's operator gets its own state,
// once, and a shard with none gets no call.
func TestLocalStateIsRestoredOnce(t *testing.T) {
	ops := []Operator{&distinctOp{seen: map[string]bool{}}, &parseOp{}, &distinctOp{seen: map[string]bool{}}}
	tk := &task{ops: ops, opNames: []string{"distinct(key)", "parse", "distinct(key)"},
		state: ShardState{Local: map[string][]byte{"distinct(key)": []byte("Da\nb"), "distinct(key)#2": []byte("Dc")}},
		seed:  []map[string][]byte{{"distinct(key)": []byte("Dfrom-parent")}}}
	tk.local = localOps(tk.ops, tk.opNames)
	if len(tk.local) != 2 || tk.local[1].name != "distinct(key)#2" {
		t.Fatalf("local operators %+v", tk.local)
	}
	if err := tk.restoreLocal(); err != nil {
		t.Fatal(err)
	}
	first, second := ops[0].(*distinctOp), ops[2].(*distinctOp)
	if first.restores != 1 || second.restores != 1 || !first.seen["a"] || !first.seen["b"] || first.seen["from-parent"] || !second.seen["c"] || len(second.seen) != 1 {
		t.Errorf("restored %d and %d times: %v, %v", first.restores, second.restores, first.seen, second.seen)
	}
	if err := tk.snapshotLocal(); err != nil {
		t.Fatal(err)
	}
	if got := tk.state.Local; string(got["distinct(key)"]) != "Da\nb" || string(got["distinct(key)#2"]) != "Dc" || len(got) != 2 {
		t.Errorf("snapshot %q", got)
	}

	fresh := &distinctOp{seen: map[string]bool{}}
	tk = &task{ops: []Operator{fresh}, opNames: []string{"distinct(key)"}}
	tk.local = localOps(tk.ops, tk.opNames)
	if err := tk.restoreLocal(); err != nil || fresh.restores != 0 {
		t.Errorf("a shard without state: %d restores, %v", fresh.restores, err)
	}
}

// TestStatefulStageAfterWindowIsRefused: after the window nothing would
// checkpoint a shard-local operator's state, so the job does not build.
func TestStatefulStageAfterWindowIsRefused(t *testing.T) {
	_, err := New("late-distinct").From(newSource(memory.NewGoAllocator(), map[string][]string{"s": nil}, 1)).Decode(parseStage{}).
		Watermark("ts", 0).KeyBy("key").Window(countStage{size: window}).Apply(rowsToParsed{}).Apply(distinctStage{}).To(newMemSink("out")).Build()
	if err == nil || !strings.Contains(err.Error(), "distinct(key) keeps state per shard: Apply it before KeyBy and Window") {
		t.Fatalf("Build: %v", err)
	}
}

// rowsToParsed claims to turn the window's rows into parsed rows; it only
// binds, for TestStatefulStageAfterWindowIsRefused.
type rowsToParsed struct{}

func (rowsToParsed) Name() string { return "as-parsed" }
func (rowsToParsed) Bind(*arrow.Schema) (*arrow.Schema, func(OperatorEnv) (Operator, error), error) {
	return parsedSchema, func(OperatorEnv) (Operator, error) { return &parseOp{}, nil }, nil
}
