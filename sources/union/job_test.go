package union_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/expr"
	"github.com/shardflow/shardflow/operators"
	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/pipeline/checkpoint"
	"github.com/shardflow/shardflow/sources/generator"
	"github.com/shardflow/shardflow/sources/union"
	"github.com/shardflow/shardflow/windows"
)

// ledger is the durable side of txSink: what was pre-committed, by
// checkpoint, and the committed rows. It outlives the job, as a table in a
// store does; a txSink's staged rows do not.
type ledger struct {
	mu        sync.Mutex
	pending   map[uint64][]string
	committed []string
	commits   atomic.Int64
}

func newLedger() *ledger { return &ledger{pending: map[uint64][]string{}} }

func (l *ledger) rows() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Sorted(slices.Values(l.committed))
}

func (l *ledger) commit(id uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if p, ok := l.pending[id]; ok {
		l.committed = append(l.committed, p...)
		delete(l.pending, id)
	}
}

// txSink is an exactly-once sink (pipeline.Committer) that keeps each row as
// its columns' values joined with "|".
type txSink struct {
	l      *ledger
	staged []string
}

var _ pipeline.Committer = (*txSink)(nil)

func (s *txSink) Name() string                { return "out" }
func (s *txSink) Bind(*arrow.Schema) error    { return nil }
func (s *txSink) Close(context.Context) error { return nil }
func (s *txSink) Write(_ context.Context, b *pipeline.Batch) error {
	defer b.Release()
	for i := range b.Len() {
		vals := make([]string, b.Rec.NumCols())
		for c := range vals {
			vals[c] = b.Rec.Column(c).ValueStr(i)
		}
		s.staged = append(s.staged, strings.Join(vals, "|"))
	}
	return nil
}

func (s *txSink) PreCommit(_ context.Context, id uint64) ([]byte, error) {
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	s.l.pending[id], s.staged = s.staged, nil
	return []byte(strconv.FormatUint(id, 10)), nil
}

func (s *txSink) Commit(_ context.Context, id uint64, _ []byte) error {
	s.l.commit(id)
	s.l.commits.Add(1)
	return nil
}

// Recover commits the restored checkpoint's handle again and drops what was
// pre-committed for checkpoints that were never persisted.
func (s *txSink) Recover(_ context.Context, r pipeline.Recovery) error {
	s.staged = nil
	if r.Handle != nil {
		s.l.commit(r.ID)
	}
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	clear(s.l.pending)
	return nil
}

// buildJob is a page_stats-like job: per page and minute of event time,
// events, purchases and unique users.
func buildJob(t *testing.T, src pipeline.Source, l *ledger, store pipeline.CheckpointStore, interval time.Duration, mem memory.Allocator) *pipeline.Job {
	t.Helper()
	job, err := pipeline.New("union-job").
		From(src).
		Decode(operators.JSON(generator.ClickstreamSchema, operators.JSONOptions{Required: []string{"ts"}})).
		Watermark("ts", 10*time.Second).
		KeyBy("page").
		Window(windows.Tumbling(time.Minute).Aggregate(
			windows.Count("events"),
			windows.CountIf("purchases", expr.Eq("event_type", generator.Purchase)),
			windows.CountDistinct("unique_users", "user_id"),
		)).
		To(&txSink{l: l}).
		Checkpoints(store, interval).
		Build(pipeline.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	return job
}

// runToEnd runs src through the job once, with a checkpoint store of its own
// unless store is given, and returns the committed rows.
func runToEnd(t *testing.T, src pipeline.Source, store pipeline.CheckpointStore) ([]string, error) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	if store == nil {
		store = checkpoint.NewMemory()
	}
	l := newLedger()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	err := buildJob(t, src, l, store, time.Hour, mem).Run(ctx)
	return l.rows(), err
}

// totals sums the events and purchases of rows by window and page; the
// unique users of two inputs do not add up (their users overlap).
func totals(t *testing.T, rows []string) map[string][2]int64 {
	t.Helper()
	out := map[string][2]int64{}
	for _, r := range rows {
		f := strings.Split(r, "|") // window_start, window_end, page, events, purchases, unique_users
		if len(f) != 6 {
			t.Fatalf("row %q: want 6 columns", r)
		}
		events, err1 := strconv.ParseInt(f[3], 10, 64)
		purchases, err2 := strconv.ParseInt(f[4], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("row %q: %v %v", r, err1, err2)
		}
		k := f[0] + " " + f[2]
		v := out[k]
		out[k] = [2]int64{v[0] + events, v[1] + purchases}
	}
	return out
}

func genCfg(seed int64, shards int, events int64) generator.Config {
	return generator.Config{Shards: shards, Events: events, Seed: seed, EventInterval: time.Second, BatchSize: 200}
}

// A bounded union of two generators of different seeds runs to its end
// through a whole job, and its windows hold exactly what the two generators'
// windows hold alone, added up.
func TestUnionEqualsItsMembersAlone(t *testing.T) {
	a, b := genCfg(1, 2, 6_000), genCfg(2, 3, 9_000)
	aloneA, err := runToEnd(t, mustGen(t, a), nil)
	if err != nil {
		t.Fatal(err)
	}
	aloneB, err := runToEnd(t, mustGen(t, b), nil)
	if err != nil {
		t.Fatal(err)
	}
	both, err := runToEnd(t, mustUnion(t, union.Member{Name: "a", Source: mustGen(t, a)}, union.Member{Name: "b", Source: mustGen(t, b)}), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := totals(t, aloneA)
	for k, v := range totals(t, aloneB) {
		w := want[k]
		want[k] = [2]int64{w[0] + v[0], w[1] + v[1]}
	}
	got := totals(t, both)
	var events int64
	for _, v := range got {
		events += v[0]
	}
	if events != a.Events+b.Events {
		t.Errorf("the union's windows count %d events, want %d", events, a.Events+b.Events)
	}
	if len(got) != len(want) {
		t.Errorf("the union has %d windows and pages, its members alone %d", len(got), len(want))
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got[k] != want[k] {
			t.Fatalf("window and page %s: union has events, purchases %v, its members alone %v", k, got[k], want[k])
		}
	}
}

// A checkpoint of a union is refused, before any row is committed, by a union
// of other members, and by one whose member reads another input.
func TestCheckpointOfOtherMembersIsRefused(t *testing.T) {
	dir := t.TempDir()
	open := func() pipeline.CheckpointStore {
		store, err := checkpoint.NewDir(dir, checkpoint.DirConfig{})
		if err != nil {
			t.Fatal(err)
		}
		return store
	}
	a, b, c := genCfg(1, 2, 1_000), genCfg(2, 2, 1_000), genCfg(3, 2, 1_000)
	if _, err := runToEnd(t, mustUnion(t, union.Member{Name: "a", Source: mustGen(t, a)}, union.Member{Name: "b", Source: mustGen(t, b)}), open()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		members []union.Member
		want    string
	}{
		{"member replaced", []union.Member{{Name: "a", Source: mustGen(t, a)}, {Name: "c", Source: mustGen(t, c)}}, "(added c, removed b)"},
		{"member added", []union.Member{{Name: "a", Source: mustGen(t, a)}, {Name: "b", Source: mustGen(t, b)}, {Name: "c", Source: mustGen(t, c)}}, "(added c)"},
		{"members reordered", []union.Member{{Name: "b", Source: mustGen(t, b)}, {Name: "a", Source: mustGen(t, a)}}, "(reordered)"},
		{"member's seed changed", []union.Member{{Name: "a", Source: mustGen(t, a)}, {Name: "b", Source: mustGen(t, c)}}, `union member "b"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := runToEnd(t, mustUnion(t, tc.members...), open())
			if !errors.Is(err, pipeline.ErrIncompatibleSource) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Run = %v\nwant one line wrapping ErrIncompatibleSource containing %q", err, tc.want)
			}
			if len(rows) != 0 {
				t.Errorf("%d rows committed before the refusal", len(rows))
			}
			t.Logf("refused: %v", err)
		})
	}
	// The members it was taken of are accepted, one of them with more events.
	// (A generator's shards that ended are finished in the checkpoint, and a
	// finished shard is never read again: there is nothing new to commit.)
	b.Events = 2_000
	if _, err := runToEnd(t, mustUnion(t, union.Member{Name: "a", Source: mustGen(t, a)}, union.Member{Name: "b", Source: mustGen(t, b)}), open()); err != nil {
		t.Fatalf("the same members, b grown: %v", err)
	}
}

// crashing is a generator whose readers call trip after every batch: the
// test's crash switch. It keeps the generator's identity.
type crashing struct {
	*generator.Source
	trip func()
}

func (s *crashing) OpenShard(ctx context.Context, sh pipeline.Shard, after pipeline.Position) (pipeline.ShardReader, error) {
	r, err := s.Source.OpenShard(ctx, sh, after)
	if err != nil {
		return nil, err
	}
	return &crashReader{ShardReader: r, trip: s.trip}, nil
}

type crashReader struct {
	pipeline.ShardReader
	trip func()
}

func (r *crashReader) Read(ctx context.Context) (*pipeline.Batch, error) {
	b, err := r.ShardReader.Read(ctx)
	if b != nil {
		r.trip()
	}
	return b, err
}

// A union job killed again and again (its context canceled, its staged rows
// lost) and restarted from the checkpoints in a directory commits exactly
// the rows of an uninterrupted run: every window once, with the same counts.
func TestKilledAndRestoredGivesExactlyOnce(t *testing.T) {
	a, b := genCfg(1, 2, 8_000), genCfg(2, 2, 8_000)
	a.Rate, b.Rate = 8_000, 8_000 // about a second per run, for checkpoints to come between the kills
	want, err := runToEnd(t, mustUnion(t, union.Member{Name: "a", Source: mustGen(t, a)}, union.Member{Name: "b", Source: mustGen(t, b)}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 {
		t.Fatal("the uninterrupted run committed no rows")
	}

	dir := t.TempDir()
	l := newLedger()
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 9))
	kills := 0
	for run := 0; ; run++ {
		if run == 50 {
			t.Fatalf("not finished after %d runs", run)
		}
		store, err := checkpoint.NewDir(dir, checkpoint.DirConfig{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		// Kill once this run has committed a checkpoint and read some more
		// batches: every run makes progress, and kills come between
		// checkpoints as well as during them.
		commitsAtStart, more := l.commits.Load(), int64(1+rng.IntN(30))
		var batches atomic.Int64
		trip := func() {
			if l.commits.Load() > commitsAtStart && batches.Add(1) >= more {
				cancel()
			}
		}
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		u := mustUnion(t,
			union.Member{Name: "a", Source: &crashing{Source: mustGen(t, a), trip: trip}},
			union.Member{Name: "b", Source: &crashing{Source: mustGen(t, b), trip: trip}})
		err = buildJob(t, u, l, store, 20*time.Millisecond, mem).Run(ctx)
		killed := ctx.Err() != nil
		cancel()
		mem.AssertSize(t, 0)
		if !killed {
			if err != nil {
				t.Fatalf("run %d: %v", run, err)
			}
			break
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("run %d killed: Run = %v, want context.Canceled", run, err)
		}
		kills++
	}
	t.Logf("finished after %d kills (seed %d)", kills, seed)
	if kills < 2 {
		t.Fatalf("only %d kills: the test did not test", kills)
	}
	got := l.rows()
	if len(got) != len(want) {
		t.Errorf("committed %d rows, an uninterrupted run %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Fatalf("row %d: got %s, want %s", i, got[i], want[i])
		}
	}
	if fmt.Sprint(totals(t, got)) != fmt.Sprint(totals(t, want)) {
		t.Error("totals differ")
	}
}
