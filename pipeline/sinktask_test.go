package pipeline

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestSlowSinkDoesNotHoldTheOthers: while the dead-letter sink is stuck in
// its first write, the main sink gets every row and the watermark reaches the
// end, because the dead letters wait in the stuck sink's queue. The final
// checkpoint waits for the stuck sink's pre-commit, and the output is exact
// once it goes on.
func TestSlowSinkDoesNotHoldTheOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		input := testInput(2, 500, 3) // 10 dead letters, in at most 10 batches
		out, dead := newMemSink("out"), newMemSink("dead")
		unblock := make(chan struct{})
		dead.onWrite = func() { <-unblock }
		job, err := testJob(newSource(mem, input, 64), out, dead, &memStore{}, time.Hour, WithAllocator(mem), WithQueue(16))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- job.Run(context.Background()) }()
		synctest.Wait() // everything that can go on without the dead-letter sink has
		wantRows, wantDead := expected(input)
		if st := job.Stats(); st.Watermark != MaxTime || st.Finished {
			t.Errorf("with the dead-letter sink stuck: watermark %d, finished %v; want %d, not finished", st.Watermark, st.Finished, MaxTime)
		}
		if got := out.Counters()["rows_written"]; got != int64(len(wantRows)) {
			t.Errorf("with the dead-letter sink stuck, the main sink has %d rows, want %d", got, len(wantRows))
		}
		close(unblock)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := out.rows(); !slices.Equal(got, wantRows) {
			t.Errorf("rows: got %d, want %d", len(got), len(wantRows))
		}
		if got := deadPayloads(dead); !slices.Equal(got, wantDead) {
			t.Errorf("dead letters: got %v, want %v", got, wantDead)
		}
	})
}

// failingSink fails its third write.
type failingSink struct {
	*memSink
	writes int
}

var errDiskFull = errors.New("disk full")

func (s *failingSink) Write(ctx context.Context, b *Batch) error {
	if s.writes++; s.writes == 3 {
		b.Release()
		return errDiskFull
	}
	return s.memSink.Write(ctx, b)
}

// TestSinkFailureEndsTheJob: a sink's error ends the job with the sink's name
// on it, every goroutine stops (TestMain checks) and every queued batch is
// released.
func TestSinkFailureEndsTheJob(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	out := &failingSink{memSink: newMemSink("out")}
	job, err := testJob(newSource(mem, testInput(3, 2000, 5), 16), out, newMemSink("dead"), &memStore{}, time.Hour, WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	err = job.Run(context.Background())
	if !errors.Is(err, errDiskFull) || !strings.Contains(err.Error(), "sink out") {
		t.Fatalf("got %v, want the sink's error naming it", err)
	}
	if rows := out.rows(); len(rows) != 0 {
		t.Errorf("%d rows committed, want none", len(rows))
	}
}
