package checkpoint

import (
	"errors"
	"testing"

	"github.com/shardflow/shardflow/pipeline"
)

// Memory keeps Dir's rules within one process: one holder per job, a new
// epoch per holder, and no Save without the lock or with a stale epoch.
func TestMemoryLockAndFencing(t *testing.T) {
	m := NewMemory()
	ctx := t.Context()
	if err := m.Save(ctx, &pipeline.Checkpoint{ID: 1, Job: "j"}); !errors.Is(err, ErrNotAcquired) {
		t.Errorf("Save without the lock = %v, want ErrNotAcquired", err)
	}
	l1, err := m.Acquire(ctx, "j")
	if err != nil || l1.Epoch() != 1 {
		t.Fatalf("Acquire = %v, %v; want epoch 1", l1, err)
	}
	if _, err := m.Acquire(ctx, "j"); !errors.Is(err, pipeline.ErrStoreLocked) {
		t.Errorf("second Acquire = %v, want ErrStoreLocked", err)
	}
	if err := m.Save(ctx, &pipeline.Checkpoint{ID: 1, Job: "j", Epoch: 1}); err != nil {
		t.Fatal(err)
	}
	if err := l1.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := m.Acquire(ctx, "j")
	if err != nil || l2.Epoch() != 2 {
		t.Fatalf("Acquire after Release = %v, %v; want epoch 2", l2, err)
	}
	if err := m.Save(ctx, &pipeline.Checkpoint{ID: 2, Job: "j", Epoch: 1}); !errors.Is(err, pipeline.ErrFenced) {
		t.Errorf("Save with the old epoch = %v, want ErrFenced", err)
	}
	if err := l1.Release(); err != nil { // a stale lock's Release frees nothing
		t.Fatal(err)
	}
	if _, err := m.Acquire(ctx, "j"); !errors.Is(err, pipeline.ErrStoreLocked) {
		t.Errorf("Acquire after a stale Release = %v, want ErrStoreLocked", err)
	}
	if cp, _ := m.Latest(ctx, "j"); cp == nil || cp.ID != 1 {
		t.Errorf("Latest = %+v, want checkpoint 1", cp)
	}
}
