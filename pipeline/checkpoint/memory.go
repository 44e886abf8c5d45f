package checkpoint

import (
	"context"
	"fmt"
	"sync"

	"github.com/shardflow/shardflow/pipeline"
)

// Memory is a pipeline.CheckpointStore that keeps each job's latest
// checkpoint in memory: for tests and for jobs whose restarts need not
// survive the process. Its lock and fencing hold between the jobs of one
// process, as Dir's do between processes.
type Memory struct {
	mu     sync.Mutex
	latest map[string]*pipeline.Checkpoint
	epoch  map[string]uint64 // the current holder's epoch by job
	held   map[string]bool
}

var _ pipeline.CheckpointStore = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{latest: map[string]*pipeline.Checkpoint{}, epoch: map[string]uint64{}, held: map[string]bool{}}
}

// Acquire implements pipeline.CheckpointStore.
func (m *Memory) Acquire(_ context.Context, job string) (pipeline.StoreLock, error) {
	if err := validateJob(job); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.held[job] {
		return nil, fmt.Errorf("checkpoint: job %q: %w (in this process)", job, pipeline.ErrStoreLocked)
	}
	m.held[job] = true
	m.epoch[job]++
	return &memoryLock{m: m, job: job, epoch: m.epoch[job]}, nil
}

// Save implements pipeline.CheckpointStore.
func (m *Memory) Save(ctx context.Context, cp *pipeline.Checkpoint) error {
	if err := validateJob(cp.Job); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("checkpoint: job %q: save checkpoint %d: %w", cp.Job, cp.ID, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.held[cp.Job] {
		return fmt.Errorf("%w: job %q", ErrNotAcquired, cp.Job)
	}
	if cur := m.epoch[cp.Job]; cp.Epoch != cur {
		return fmt.Errorf("checkpoint: job %q: checkpoint %d has epoch %d, the store's is %d: %w", cp.Job, cp.ID, cp.Epoch, cur, pipeline.ErrFenced)
	}
	if prev := m.latest[cp.Job]; prev != nil && cp.ID <= prev.ID {
		return fmt.Errorf("%w: job %q: checkpoint %d, the latest is %d", ErrNotNewer, cp.Job, cp.ID, prev.ID)
	}
	m.latest[cp.Job] = cp
	return nil
}

// Latest implements pipeline.CheckpointStore.
func (m *Memory) Latest(_ context.Context, job string) (*pipeline.Checkpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.latest[job], nil
}

type memoryLock struct {
	m     *Memory
	job   string
	epoch uint64
	once  sync.Once
}

func (l *memoryLock) Epoch() uint64 { return l.epoch }

func (l *memoryLock) Release() error {
	l.once.Do(func() {
		l.m.mu.Lock()
		defer l.m.mu.Unlock()
		if l.m.epoch[l.job] == l.epoch {
			l.m.held[l.job] = false
		}
	})
	return nil
}
