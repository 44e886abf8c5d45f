package pipeline

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// runOnce builds the test job over src and runs it to its end.
func runOnce(t *testing.T, src Source, store CheckpointStore, opts ...Option) (*Job, *memSink, error) {
	t.Helper()
	out, dead := newMemSink("out"), newMemSink("dead")
	job, err := testJob(src, out, dead, store, time.Hour, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return job, out, job.Run(context.Background())
}

// The run id is chosen once, when the job starts without a checkpoint, and
// carried by every checkpoint after it; every process gets a new epoch; and
// the sinks are told both.
func TestRunIDAndEpochAreCarried(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	src := newSource(mem, testInput(2, 300, 1), 50)
	src.bound = map[string]int{"s0": 100, "s1": 100}
	store := &memStore{}
	_, out, err := runOnce(t, src, store, WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	first := store.saved[len(store.saved)-1]
	if first.Run == "" || first.Epoch != 1 {
		t.Fatalf("first checkpoint: run %q epoch %d, want a run id and epoch 1", first.Run, first.Epoch)
	}
	if r := out.recovered[0]; r.Run != first.Run || r.Epoch != 1 || r.ID != 0 || r.Job != "test" {
		t.Errorf("first Recover got %+v, want run %s epoch 1 id 0 job test", r, first.Run)
	}

	src.bound = map[string]int{"s0": 200, "s1": 200}
	_, out, err = runOnce(t, src, store, WithAllocator(mem), WithOverwrite())
	if err != nil {
		t.Fatal(err)
	}
	second := store.saved[len(store.saved)-1]
	if second.ID <= first.ID || second.Run != first.Run || second.Epoch != 2 {
		t.Errorf("second run's checkpoint: id %d run %q epoch %d, want id > %d, run %q, epoch 2", second.ID, second.Run, second.Epoch, first.ID, first.Run)
	}
	if r := out.recovered[0]; r.Run != first.Run || r.Epoch != 2 || r.ID != first.ID || r.Handle == nil || !r.Overwrite {
		t.Errorf("second Recover got %+v, want run %s epoch 2 id %d with a handle and Overwrite", r, first.Run, first.ID)
	}
}

// identSource is a memSource with an identity: a version that Resume
// compares with the checkpoint's.
type identSource struct {
	*memSource
	version string
	resumed []string
}

func (s *identSource) Identity() []byte { return []byte(s.version) }
func (s *identSource) Resume(prev []byte) error {
	s.resumed = append(s.resumed, string(prev))
	if string(prev) != s.version {
		return fmt.Errorf("%w: input %s, the checkpoint's was %s", ErrIncompatibleSource, s.version, prev)
	}
	return nil
}

func TestAnotherInputIsRefusedBeforeAnyRead(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	src := &identSource{memSource: newSource(mem, testInput(2, 200, 1), 50), version: "v1"}
	src.bound = map[string]int{"s0": 100, "s1": 100}
	store := &memStore{}
	if _, _, err := runOnce(t, src, store, WithAllocator(mem)); err != nil {
		t.Fatal(err)
	}
	if got := string(store.saved[len(store.saved)-1].Source); got != "v1" {
		t.Fatalf("checkpoint's source identity %q, want v1", got)
	}
	src.version = "v2"
	src.bound = map[string]int{"s0": 200, "s1": 200}
	src.reads = 0
	_, out, err := runOnce(t, src, store, WithAllocator(mem))
	if !errors.Is(err, ErrIncompatibleSource) {
		t.Fatalf("Run = %v, want ErrIncompatibleSource", err)
	}
	if src.reads != 0 || len(out.recovered) != 0 {
		t.Errorf("%d reads and %d sink recoveries before the refusal, want none", src.reads, len(out.recovered))
	}
	if fmt.Sprint(src.resumed) != "[v1]" {
		t.Errorf("Resume got %v, want [v1]", src.resumed)
	}
}

// A run that finds every shard read and committed writes no checkpoint.
func TestNothingNewWritesNoCheckpoint(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	src := newSource(mem, testInput(2, 200, 1), 50)
	store := &memStore{}
	if _, _, err := runOnce(t, src, store, WithAllocator(mem)); err != nil {
		t.Fatal(err)
	}
	saved := len(store.saved)
	job, _, err := runOnce(t, src, store, WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	st := job.Stats()
	if len(store.saved) != saved || st.Checkpoints != 0 || st.LastCheckpoint != store.saved[saved-1].ID || !st.Finished {
		t.Errorf("second run: %d checkpoints saved (was %d), stats %d checkpoints, last %d, finished %v; want none saved, last %d, finished",
			len(store.saved), saved, st.Checkpoints, st.LastCheckpoint, st.Finished, store.saved[saved-1].ID)
	}
}

// A checkpoint written before runs had ids (format 1) gets a run id when it
// is restored, and every restore of it must get the same one: the sinks'
// commit logs record the re-commit of its handle under that run, and a
// restart from the same checkpoint with another run (a crash before the next
// checkpoint, or a run with nothing new, which writes none) would find that
// entry unaccounted for.
func TestRunIDOfARunlessCheckpointIsStable(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	src := newSource(mem, testInput(2, 200, 1), 50)
	store := &memStore{}
	if _, _, err := runOnce(t, src, store, WithAllocator(mem)); err != nil {
		t.Fatal(err)
	}
	old := *store.saved[len(store.saved)-1]
	old.Run = "" // as a format-1 checkpoint decodes
	store.saved = append(store.saved, &old)
	saved := len(store.saved)
	var runs []string
	for range 2 {
		_, out, err := runOnce(t, src, store, WithAllocator(mem))
		if err != nil {
			t.Fatal(err)
		}
		if len(store.saved) != saved || len(out.recovered) != 1 {
			t.Fatalf("%d checkpoints saved, %d recoveries: want nothing new saved and one recovery", len(store.saved)-saved, len(out.recovered))
		}
		runs = append(runs, out.recovered[0].Run)
	}
	if runs[0] == "" || runs[0] != runs[1] {
		t.Errorf("the restores of one checkpoint without a run got runs %q: want one run id", runs)
	}
}

// Shards that the source lists after the job's first listing are read from
// their earliest record; those of the first listing from the configured
// start (the zero Position).
func TestShardsThatAppearLaterStartAtEarliest(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	input := testInput(3, 100, 1)
	src := newSource(mem, input, 50)
	src.shards = src.shards[:2] // s2 appears later
	store := &memStore{}
	if _, _, err := runOnce(t, src, store, WithAllocator(mem)); err != nil {
		t.Fatal(err)
	}
	if len(src.opened) != 2 || !src.opened["s0"].IsZero() || !src.opened["s1"].IsZero() {
		t.Errorf("first run opened %v, want s0 and s1 at the zero position", src.opened)
	}
	src.shards = append(src.shards, Shard{ID: "s2"})
	if _, _, err := runOnce(t, src, store, WithAllocator(mem)); err != nil {
		t.Fatal(err)
	}
	if got := src.opened["s2"]; got != Earliest {
		t.Errorf("s2 opened after %v, want Earliest", got)
	}
	if st := store.saved[len(store.saved)-1].Shards["s2"]; !st.Finished {
		t.Errorf("s2 in the last checkpoint: %+v, want finished", st)
	}
}

// lockedStore refuses Acquire as a store held by another process does.
type lockedStore struct{ memStore }

func (*lockedStore) Acquire(context.Context, string) (StoreLock, error) {
	return nil, fmt.Errorf("held by pid 1: %w", ErrStoreLocked)
}

func TestLockedStoreIsRefusedBeforeAnyWork(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	src := newSource(mem, testInput(2, 100, 1), 50)
	_, out, err := runOnce(t, src, &lockedStore{}, WithAllocator(mem))
	if !errors.Is(err, ErrStoreLocked) {
		t.Fatalf("Run = %v, want ErrStoreLocked", err)
	}
	if src.reads != 0 || len(out.recovered) != 0 {
		t.Errorf("%d reads and %d sink recoveries, want none", src.reads, len(out.recovered))
	}
}

// countingMetrics records what the metrics hook is told of the components.
type countingMetrics struct {
	nopMetrics
	mu         sync.Mutex
	components map[string]map[string]int64
	shards     map[string]int
}

func (m *countingMetrics) ShardRead(shard string, records, _ int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.shards[shard] += records
}

func (m *countingMetrics) Counters(component string, c map[string]int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.components[component] = maps.Clone(c)
}

// The counters of shard-local stages (summed over shards) and of sinks reach
// Stats and the metrics hook, not only the keyed operator's.
func TestEveryComponentsCountersAreReported(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	input := testInput(3, 400, 1)
	wantRows, wantDead := expected(input)
	m := &countingMetrics{components: map[string]map[string]int64{}, shards: map[string]int{}}
	job, out, err := runOnce(t, newSource(mem, input, 64), &memStore{}, WithAllocator(mem), WithMetrics(m))
	if err != nil {
		t.Fatal(err)
	}
	st := job.Stats()
	if got := st.Components["parse"]["rejected"]; got != int64(len(wantDead)) {
		t.Errorf("Stats: parse rejected %d, want %d (all shards)", got, len(wantDead))
	}
	if got := st.Components["out"]["rows_written"]; got != int64(len(wantRows)) || got != st.RowsOut {
		t.Errorf("Stats: out rows_written %d, RowsOut %d, want %d", got, st.RowsOut, len(wantRows))
	}
	if got := st.Components["dead"]["rows_written"]; got != int64(len(wantDead)) {
		t.Errorf("Stats: dead rows_written %d, want %d", got, len(wantDead))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.components["parse"]["rejected"] != int64(len(wantDead)) || m.components["out"]["rows_written"] != int64(len(wantRows)) ||
		m.components["count(1000)"]["windows_fired"] != st.Counters["windows_fired"] {
		t.Errorf("metrics hook got %v; want parse, out and the keyed stage", m.components)
	}
	if len(m.shards) != 3 || out == nil {
		t.Errorf("metrics hook saw shards %v, want 3", m.shards)
	}
}

// replaySource is a memSource whose input is fixed, described by key.
type replaySource struct {
	*memSource
	key string
}

func (s *replaySource) ReplayKey(context.Context) ([]byte, error) { return []byte(s.key), nil }

// A replay's run id comes from the job and what the source reads, the same
// at every start, with or without a checkpoint; the sinks are told it is a
// replay; a checkpoint of another replay is refused before any read; a
// source that cannot describe fixed input cannot replay.
func TestReplayRunIDComesFromTheInput(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	newSrc := func(key string) *replaySource {
		return &replaySource{memSource: newSource(mem, testInput(2, 200, 1), 50), key: key}
	}
	var runs []string
	for range 2 { // two starts with fresh checkpoint stores
		store := &memStore{}
		_, out, err := runOnce(t, newSrc("range-a"), store, WithAllocator(mem), WithReplay())
		if err != nil {
			t.Fatal(err)
		}
		last := store.saved[len(store.saved)-1]
		if r := out.recovered[0]; !r.Replay || r.Run != last.Run {
			t.Fatalf("Recover got %+v, want Replay and the checkpoint's run %s", r, last.Run)
		}
		runs = append(runs, last.Run)
	}
	if runs[0] != runs[1] || !strings.HasPrefix(runs[0], "replay-") || len(runs[0]) != len("replay-")+12 {
		t.Fatalf("runs of two starts of one replay: %q, want the same replay-<12 hex digits>", runs)
	}

	store := &memStore{}
	if _, _, err := runOnce(t, newSrc("range-a"), store, WithAllocator(mem), WithReplay()); err != nil {
		t.Fatal(err)
	}
	other := newSrc("range-b")
	_, out, err := runOnce(t, other, store, WithAllocator(mem), WithReplay())
	if !errors.Is(err, ErrIncompatibleCheckpoint) || !strings.Contains(err.Error(), "its own --checkpoints") || len(out.recovered) != 0 || other.reads != 0 {
		t.Errorf("another replay over this checkpoint: err %v, %d recoveries, %d reads; want ErrIncompatibleCheckpoint before any", err, len(out.recovered), other.reads)
	}
	_, _, err = runOnce(t, newSource(mem, testInput(2, 200, 1), 50), &memStore{}, WithAllocator(mem), WithReplay())
	if err == nil || !strings.Contains(err.Error(), "fixed input") {
		t.Errorf("a replay of a source without a key: %v, want an error saying it needs fixed input", err)
	}
}
