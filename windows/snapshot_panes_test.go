package windows

import (
	"os"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestPaneSnapshotGolden: a sliding stage on panes, with level states of
// partly late rows, writes snapshot version 2 byte for byte as before
// AllowedLateness existed (testdata/snapshot-panes-v2.bin was written by
// that code), and the file restores and carries on as if never
// interrupted.
func TestPaneSnapshotGolden(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	spec := func() *Spec {
		return Sliding(30*time.Second, 10*time.Second).Aggregate(Count("n"), CountDistinct("u", "user_id"), Sum("p", "price")).LateRows()
	}
	steps := clockSteps(randomSteps(newRand(2), 40, 0))
	want := runSteps(t, mem, newBoundOp(t, mem, spec(), []string{"page"}, testBound), steps)
	op := newBoundOp(t, mem, spec(), []string{"page"}, testBound)
	cut := len(steps) / 2
	runSteps(t, mem, op, steps[:cut])
	levels := 0
	for _, sh := range op.byName {
		if _, j := shardLevel(sh.name); j > 0 {
			levels++
		}
	}
	if levels == 0 {
		t.Fatal("no level states to snapshot")
	}
	state, err := op.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if state[4] != 2 {
		t.Fatalf("version %d, want 2", state[4])
	}
	golden(t, "snapshot-panes-v2.bin", state)
	old, err := os.ReadFile("testdata/snapshot-panes-v2.bin")
	if err != nil {
		t.Fatal(err)
	}
	restored := newBoundOp(t, mem, spec(), []string{"page"}, testBound)
	if err := restored.Restore(old); err != nil {
		t.Fatal(err)
	}
	got := runSteps(t, mem, restored, steps[cut:])
	tail := want[len(want)-countWm(steps[cut:]):]
	if len(got) != len(tail) || len(got) == 0 {
		t.Fatalf("%d firings after restore, want %d", len(got), len(tail))
	}
	for i := range got {
		if !slices.Equal(got[i].rows, tail[i].rows) {
			t.Errorf("firing %d after restore\n got %q\nwant %q", i, got[i].rows, tail[i].rows)
		}
	}
}

// countWm is the number of watermark steps in steps.
func countWm(steps []step) int {
	n := 0
	for _, s := range steps {
		if s.wm != nil {
			n++
		}
	}
	return n
}
