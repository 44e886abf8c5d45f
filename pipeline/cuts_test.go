package pipeline

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// arrivalSource is a bounded, replayable source whose records carry arrival
// times: record i of a shard is "<arrival>,<shard>", arriving at arrival ms.
type arrivalSource struct {
	mem      memory.Allocator
	shards   []Shard
	arrivals map[string][]int64
	batch    int
	slow     map[string]time.Duration // each Read of the shard takes this long
}

func (s *arrivalSource) Name() string                            { return "arrivals" }
func (s *arrivalSource) Bounded() bool                           { return true }
func (s *arrivalSource) Shards(context.Context) ([]Shard, error) { return s.shards, nil }
func (s *arrivalSource) ReplayKey(context.Context) ([]byte, error) {
	return []byte(fmt.Sprint(s.arrivals)), nil
}
func (s *arrivalSource) OpenShard(_ context.Context, sh Shard, after Position) (ShardReader, error) {
	return &arrivalReader{src: s, shard: sh.ID, next: int(after.N), b: NewRawBuilder(s.mem)}, nil
}

type arrivalReader struct {
	src   *arrivalSource
	shard string
	next  int
	b     *RawBuilder
}

func (r *arrivalReader) Read(ctx context.Context) (*Batch, error) {
	recs := r.src.arrivals[r.shard]
	if r.next >= len(recs) {
		return nil, ErrShardEnd
	}
	if d := r.src.slow[r.shard]; d > 0 {
		select {
		case <-time.After(d): // a slow shard: the test's point is that pace does not matter
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	for i := 0; i < r.src.batch && r.next < len(recs); i++ {
		a := recs[r.next]
		r.next++
		r.b.Append(fmt.Appendf(nil, "%d,%s", a, r.shard), "", OffsetPosition(int64(r.next)), a)
	}
	return r.b.NewBatch(r.shard), nil
}

func (r *arrivalReader) Close() error { r.b.Release(); return nil }

// cutSink keeps what each checkpoint pre-committed, by checkpoint id: rows
// "<key><ts>" of parseStage's schema, or the keyed stage's rows as strings.
type cutSink struct {
	mu     sync.Mutex
	staged []string
	cuts   map[uint64][]string
}

func (s *cutSink) Name() string                                 { return "cuts" }
func (s *cutSink) Bind(*arrow.Schema) error                     { return nil }
func (s *cutSink) Close(context.Context) error                  { return nil }
func (s *cutSink) Commit(context.Context, uint64, []byte) error { return nil }
func (s *cutSink) Recover(context.Context, Recovery) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.staged = nil
	return nil
}

func (s *cutSink) Write(_ context.Context, b *Batch) error {
	defer b.Release()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < b.Len(); i++ {
		if ts, ok := b.Rec.Column(0).(*array.Timestamp); ok {
			s.staged = append(s.staged, fmt.Sprintf("%s%d", b.Rec.Column(1).ValueStr(i), ts.Value(i)))
			continue
		}
		s.staged = append(s.staged, b.Rec.Column(0).ValueStr(i))
	}
	return nil
}

func (s *cutSink) PreCommit(_ context.Context, id uint64) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cuts == nil {
		s.cuts = map[uint64][]string{}
	}
	slices.Sort(s.staged)
	s.cuts[id] = s.staged
	s.staged = nil
	return []byte("h"), nil
}

// TestReplayCutsByArrival checks where a data-cut replay's barriers go: a
// shard's batch is split at each boundary of 100ms of arrival time, a shard
// that finishes early holds nothing back, a child shard that starts after
// its parent ended joins the next checkpoint, and the final checkpoint
// comes after the greatest boundary. The same cuts come out whatever the
// batch size and whichever shard is slow, for a checkpoint interval of
// 1ns that would checkpoint all the time if the clock still cut them.
func TestReplayCutsByArrival(t *testing.T) {
	want := map[uint64][]string{
		1: nil,                                              // nothing arrived before 100
		2: {"a150", "a160", "b110", "b120", "p105", "p199"}, // [100, 200)
		3: {"a250", "a260"},                                 // [200, 300): c waits at 3, a at 4
		4: {"c330", "c340"},                                 // [300, 400)
		5: {"a420"},                                         // the end, after boundary 4
	}
	for _, tc := range []struct {
		batch int
		slow  string
	}{{10, ""}, {1, ""}, {10, "a"}, {2, "c"}, {3, "b"}} {
		t.Run(fmt.Sprintf("batch%d-slow%s", tc.batch, tc.slow), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			src := &arrivalSource{mem: mem, batch: tc.batch, arrivals: map[string][]int64{
				"a": {150, 160, 250, 260, 420},
				"b": {110, 120},
				"p": {105, 199},
				"c": {330, 340},
			}, shards: []Shard{{ID: "a"}, {ID: "b"}, {ID: "p"}, {ID: "c", Parents: []string{"p"}}}}
			if tc.slow != "" {
				src.slow = map[string]time.Duration{tc.slow: 20 * time.Millisecond}
			}
			out, store := &cutSink{}, &memStore{}
			job, err := New("cuts").From(src).Decode(parseStage{}).To(out).Checkpoints(store, time.Nanosecond).
				Build(WithAllocator(mem), WithReplay(), WithReplayStep(100*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			if err := job.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			if !maps.EqualFunc(out.cuts, want, slices.Equal) {
				t.Errorf("rows by checkpoint:\n got %v\nwant %v", out.cuts, want)
			}
			var ids []uint64
			for _, cp := range store.saved {
				ids = append(ids, cp.ID)
			}
			if !slices.Equal(ids, []uint64{1, 2, 3, 4, 5}) {
				t.Errorf("checkpoints saved %v, want 1..5", ids)
			}
		})
	}
}

// TestReplayCutsFireWindowsAlike runs a windowed replay of three shards at
// different paces and batch sizes, killed after a checkpoint and resumed:
// every run pre-commits the same window rows in the same checkpoints.
func TestReplayCutsFireWindowsAlike(t *testing.T) {
	arrivals := map[string][]int64{}
	for s, id := range []string{"x", "y", "z"} {
		for i := range 120 {
			arrivals[id] = append(arrivals[id], int64(1000+i*(7+3*s)))
		}
	}
	run := func(t *testing.T, batch int, slow string, killAfter int) map[uint64][]string {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		src := &arrivalSource{mem: mem, batch: batch, arrivals: arrivals, shards: []Shard{{ID: "x"}, {ID: "y"}, {ID: "z"}}}
		if slow != "" {
			src.slow = map[string]time.Duration{slow: 2 * time.Millisecond}
		}
		out, store := &cutSink{}, &hookedStore{memStore: &memStore{}}
		build := func() *Job {
			job, err := New("windows").From(src).Decode(parseStage{}).Watermark("ts", 50*time.Millisecond).
				KeyBy("key").Window(countStage{size: 100}).To(out).Checkpoints(store, time.Millisecond).
				Build(WithAllocator(mem), WithReplay(), WithReplayStep(250*time.Millisecond), WithParallelism(2))
			if err != nil {
				t.Fatal(err)
			}
			return job
		}
		if killAfter > 0 {
			ctx, cancel := context.WithCancel(context.Background())
			job := build()
			saves := make(chan struct{}, 1000)
			store.onSave = func() { saves <- struct{}{} }
			defer func() { store.onSave = nil }()
			done := make(chan error, 1)
			go func() { done <- job.Run(ctx) }()
			for range killAfter {
				<-saves
			}
			cancel()
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Fatal(err)
			}
			store.onSave = nil
			// What the killed run pre-committed after the checkpoint it
			// resumes from is not kept: the restart writes it again.
			last := store.saved[len(store.saved)-1].ID
			maps.DeleteFunc(out.cuts, func(id uint64, _ []string) bool { return id > last })
		}
		if err := build().Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		return out.cuts
	}
	ref := run(t, 16, "", 0)
	if len(ref) < 4 {
		t.Fatalf("only %d checkpoints: %v", len(ref), ref)
	}
	for _, tc := range []struct {
		batch     int
		slow      string
		killAfter int
	}{{1, "x", 0}, {5, "z", 0}, {7, "y", 3}, {16, "", 2}} {
		got := run(t, tc.batch, tc.slow, tc.killAfter)
		if !maps.EqualFunc(got, ref, slices.Equal) {
			t.Errorf("batch %d, slow %q, killed after %d checkpoints: rows by checkpoint\n got %v\nwant %v",
				tc.batch, tc.slow, tc.killAfter, got, ref)
		}
	}
}

// hookedStore is a memStore that calls onSave after each save.
type hookedStore struct {
	*memStore
	onSave func()
}

func (s *hookedStore) Save(ctx context.Context, cp *Checkpoint) error {
	err := s.memStore.Save(ctx, cp)
	if err == nil && s.onSave != nil {
		s.onSave()
	}
	return err
}
