package operators_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/operators"
	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/pipeline/checkpoint"
	"github.com/shardflow/shardflow/sources/file"
)

// idSink is a two-phase-commit sink of event ids: what it was written
// becomes visible in committed only through Commit, and what was staged
// after the latest checkpoint is lost on a crash, as temporary files are.
type idSink struct {
	mu        sync.Mutex
	staged    []string
	precommit map[uint64][]string
	committed []string
	onWrite   func()
}

var (
	_ pipeline.Sink      = (*idSink)(nil)
	_ pipeline.Committer = (*idSink)(nil)
)

func (s *idSink) Name() string                { return "ids" }
func (s *idSink) Bind(*arrow.Schema) error    { return nil }
func (s *idSink) Close(context.Context) error { return nil }
func (s *idSink) Write(_ context.Context, b *pipeline.Batch) error {
	defer b.Release()
	s.mu.Lock()
	ids := b.Rec.Column(0).(*array.String)
	for i := range b.Len() {
		s.staged = append(s.staged, ids.Value(i))
	}
	hook := s.onWrite
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	return nil
}

func (s *idSink) PreCommit(_ context.Context, id uint64) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.precommit[id], s.staged = s.staged, nil
	return strconv.AppendUint(nil, id, 10), nil
}

func (s *idSink) Commit(_ context.Context, id uint64, _ []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.committed = append(s.committed, s.precommit[id]...)
	delete(s.precommit, id)
	return nil
}

func (s *idSink) Recover(ctx context.Context, r pipeline.Recovery) error {
	s.mu.Lock()
	s.staged = nil
	for id := range s.precommit {
		if id != r.ID {
			delete(s.precommit, id)
		}
	}
	s.mu.Unlock()
	if r.Handle == nil {
		return nil
	}
	return s.Commit(ctx, r.ID, r.Handle)
}

func (s *idSink) ids() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.committed)
	slices.Sort(out)
	return out
}

var dedupeEventSchema = arrow.NewSchema([]arrow.Field{
	{Name: "event_id", Type: arrow.BinaryTypes.String},
	{Name: "ts", Type: arrow.FixedWidthTypes.Timestamp_ms},
	{Name: "page", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

// retriedEvents writes files of events, one per shard, where one event in
// twenty is put again (a producer's retry) up to 30 lines later, and returns
// the events' ids, each once, and the number of repeats.
func retriedEvents(t *testing.T, dir string, files, perFile int) (ids []string, repeats int) {
	rng := rand.New(rand.NewPCG(7, 8))
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for f := range files {
		var lines []string
		var pending []string // retries still to put
		for i := range perFile {
			id := fmt.Sprintf("%04x-%d-%06d", rng.Uint32()&0xffff, f, i)
			ids = append(ids, id)
			line := fmt.Sprintf(`{"event_id":%q,"ts":%q,"page":"/p/%d"}`, id, t0.Add(time.Duration(i)*100*time.Millisecond).Format("2006-01-02T15:04:05.000Z"), rng.IntN(9))
			lines = append(lines, line)
			if rng.IntN(20) == 0 {
				pending = append(pending, line)
			}
			if len(pending) > 0 && rng.IntN(30) == 0 {
				lines = append(lines, pending[0])
				pending = pending[1:]
				repeats++
			}
		}
		lines = append(lines, pending...)
		repeats += len(pending)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("events-%d.jsonl", f)), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(ids)
	return ids, repeats
}

// TestDedupeInAJob reads files of events with retried records through JSON
// and Dedupe into a two-phase-commit sink: uninterrupted, and killed at
// random points and restarted from its checkpoints until it finishes. Both
// times the committed output is every event exactly once.
func TestDedupeInAJob(t *testing.T) {
	dir := t.TempDir()
	want, repeats := retriedEvents(t, dir, 2, 3000)
	if repeats < 100 {
		t.Fatalf("only %d repeats", repeats)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	stage := operators.Dedupe("event_id", "ts", 10*time.Minute)
	build := func(store pipeline.CheckpointStore, sink *idSink, batch int) *pipeline.Job {
		src, err := file.New(file.Config{Glob: filepath.Join(dir, "*.jsonl"), BatchSize: batch, Mem: mem})
		if err != nil {
			t.Fatal(err)
		}
		job, err := pipeline.New("dedupe").
			From(src).
			Decode(operators.JSON(dedupeEventSchema, operators.JSONOptions{Required: []string{"ts"}})).
			Apply(stage).
			To(sink).
			Checkpoints(store, time.Millisecond).
			Build(pipeline.WithAllocator(mem))
		if err != nil {
			t.Fatal(err)
		}
		return job
	}

	t.Run("uninterrupted", func(t *testing.T) {
		sink := &idSink{precommit: map[uint64][]string{}}
		job := build(checkpoint.NewMemory(), sink, 500)
		if err := job.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := sink.ids(); !slices.Equal(got, want) {
			t.Fatalf("committed %d ids, want the %d events once each", len(got), len(want))
		}
		if got := job.Stats().Components[stage.Name()]["duplicate_rows"]; got != int64(repeats) {
			t.Errorf("duplicate_rows %d, want %d", got, repeats)
		}
	})

	t.Run("killed and restarted", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		store := checkpoint.NewMemory()
		sink := &idSink{precommit: map[uint64][]string{}}
		restarts := 0
		for ; ; restarts++ {
			if restarts > 200 {
				t.Fatal("job did not finish after 200 restarts")
			}
			ctx, kill := context.WithCancel(t.Context())
			var writes atomic.Int64
			killAt := 1 + rng.Int64N(12)
			sink.onWrite = func() {
				if writes.Add(1) == killAt {
					kill()
				}
			}
			err := build(store, sink, 20+rng.IntN(200)).Run(ctx)
			kill()
			if err == nil {
				break
			}
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("run %d: %v", restarts, err)
			}
		}
		if restarts == 0 {
			t.Fatal("the job was never killed")
		}
		got := sink.ids()
		if !slices.Equal(got, want) {
			dups := 0
			for i := 1; i < len(got); i++ {
				if got[i] == got[i-1] {
					dups++
				}
			}
			t.Fatalf("after %d restarts: committed %d ids (%d repeated), want the %d events once each", restarts, len(got), dups, len(want))
		}
		t.Logf("%d restarts", restarts)
	})
}
