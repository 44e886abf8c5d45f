package stagingtest

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sinks/staging"
)

// Subject is a two-phase-commit file sink under test.
type Subject interface {
	pipeline.Sink
	pipeline.Committer
}

// Harness adapts one file sink to RunCommitterSuite. Each subtest gets a new
// Harness, with its own directory.
type Harness struct {
	// New returns a sink, bound to the schema of Batch, that writes under Root
	// through fsys.
	New func(t *testing.T, fsys staging.FS) Subject
	// Batch returns n rows numbered from first on; rows of different numbers
	// may go to different files of the sink.
	Batch func(mem memory.Allocator, first, n int) *pipeline.Batch
	// Committed counts the rows that a reader of the sink's output sees.
	Committed func(t *testing.T) int
	// Root is the directory under which the sink stages its files.
	Root string
}

// RunCommitterSuite checks that a file sink writes exactly once through
// crashes at every step of its two-phase commit, and that its output knows
// what it holds: another run's or a lost checkpoint's output is refused or
// replaced exactly, a missing committed file is named, a stale process is
// fenced off and other jobs' files are left alone.
func RunCommitterSuite(t *testing.T, newHarness func(t *testing.T) Harness) {
	for _, tc := range slices.Concat(suite, logSuite) {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			r := &run{t: t, h: newHarness(t), mem: mem}
			tc.run(r)
		})
	}
}

type run struct {
	t   *testing.T
	h   Harness
	mem memory.Allocator
}

func (r *run) newSink(fsys staging.FS) Subject {
	r.t.Helper()
	if fsys == nil {
		fsys = staging.OS()
	}
	return r.h.New(r.t, fsys)
}

// write writes rows [first, first+n) in two batches.
func (r *run) write(s Subject, first, n int) {
	r.t.Helper()
	half := n / 2
	for _, part := range [][2]int{{first, half}, {first + half, n - half}} {
		if part[1] == 0 {
			continue
		}
		if err := s.Write(context.Background(), r.h.Batch(r.mem, part[0], part[1])); err != nil {
			r.t.Fatalf("Write: %v", err)
		}
	}
}

func (r *run) preCommit(s Subject, id uint64) []byte {
	r.t.Helper()
	h, err := s.PreCommit(context.Background(), id)
	if err != nil {
		r.t.Fatalf("PreCommit(%d): %v", id, err)
	}
	return h
}

func (r *run) commit(s Subject, id uint64, h []byte) {
	r.t.Helper()
	if err := s.Commit(context.Background(), id, h); err != nil {
		r.t.Fatalf("Commit(%d): %v", id, err)
	}
}

// The job and run of the suite's sinks unless a case says otherwise.
const (
	testJob = "test"
	testRun = "run1"
)

// recovery is the Recovery of testJob and testRun at checkpoint id.
func recovery(id uint64, h []byte) pipeline.Recovery {
	return pipeline.Recovery{Job: testJob, Run: testRun, ID: id, Handle: h}
}

func (r *run) recover(s Subject, id uint64, h []byte) {
	r.t.Helper()
	r.recoverWith(s, recovery(id, h))
}

func (r *run) recoverWith(s Subject, rec pipeline.Recovery) {
	r.t.Helper()
	if err := s.Recover(context.Background(), rec); err != nil {
		r.t.Fatalf("Recover(%+v): %v", rec, err)
	}
}

// start returns a new sink recovered as the first run of the job.
func (r *run) start(fsys staging.FS) Subject {
	r.t.Helper()
	s := r.newSink(fsys)
	r.recover(s, 0, nil)
	return s
}

func (r *run) close(s Subject) {
	r.t.Helper()
	if err := s.Close(context.Background()); err != nil {
		r.t.Fatalf("Close: %v", err)
	}
}

// expect checks the committed rows and the staged files left on disk.
func (r *run) expect(rows, pending int) {
	r.t.Helper()
	if got := r.h.Committed(r.t); got != rows {
		r.t.Errorf("committed rows = %d, want %d", got, rows)
	}
	if got := r.pending(); got != pending {
		r.t.Errorf("staged files = %d, want %d", got, pending)
	}
}

func (r *run) pending() int {
	r.t.Helper()
	n := 0
	err := filepath.WalkDir(r.h.Root, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && staging.IsStagedName(d.Name()) {
			n++
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		r.t.Fatalf("walk %s: %v", r.h.Root, err)
	}
	return n
}

func handleFiles(t *testing.T, h []byte) []staging.Entry {
	t.Helper()
	hd, err := staging.ParseHandle(h)
	if err != nil {
		t.Fatalf("handle: %v", err)
	}
	return hd.Files
}

var suite = []struct {
	name string
	run  func(r *run)
}{
	{"commit makes rows visible", func(r *run) {
		s := r.start(nil)
		r.write(s, 0, 20)
		h := r.preCommit(s, 1)
		r.expect(0, len(handleFiles(r.t, h)))
		r.commit(s, 1, h)
		r.expect(20, 0)
		for _, e := range handleFiles(r.t, h) {
			if n, err := staging.ParseName(filepath.Base(e.Final)); err != nil || n.Run != testRun || n.Checkpoint != 1 {
				r.t.Errorf("final name %s = %+v, %v: want run %s, checkpoint 1", e.Final, n, err, testRun)
			}
		}
		r.write(s, 20, 10)
		r.commit(s, 2, r.preCommit(s, 2))
		r.expect(30, 0)
		c := s.(pipeline.CounterReporter).Counters()
		if c["rows_written"] != 30 || c["files_committed"] < 2 || c["commits"] != 2 {
			r.t.Errorf("counters = %v, want rows_written 30, files_committed >= 2 and commits 2", c)
		}
		r.close(s)
	}},
	{"write before recover fails", func(r *run) {
		s := r.newSink(nil)
		if err := s.Write(context.Background(), r.h.Batch(r.mem, 0, 5)); err == nil {
			r.t.Error("Write before Recover succeeded: its file would have no run id")
		}
		r.close(s)
		r.expect(0, 0)
	}},
	{"commit twice is harmless", func(r *run) {
		s := r.start(nil)
		r.write(s, 0, 20)
		h := r.preCommit(s, 1)
		r.commit(s, 1, h)
		r.commit(s, 1, h)
		r.expect(20, 0)
		r.close(s)
		s2 := r.newSink(nil)
		r.recover(s2, 1, h) // a replayed commit after a restart
		r.expect(20, 0)
		r.close(s2)
	}},
	{"empty checkpoint", func(r *run) {
		s := r.start(nil)
		h := r.preCommit(s, 1)
		r.commit(s, 1, h)
		r.expect(0, 0)
		r.close(s)
	}},
	{"crash after pre-commit: recover commits", func(r *run) {
		s := r.start(nil)
		r.write(s, 0, 20)
		h := r.preCommit(s, 1)
		// crash: s is abandoned, the checkpoint with h was persisted
		s2 := r.newSink(nil)
		r.recover(s2, 1, h)
		r.expect(20, 0)
		r.close(s2)
	}},
	{"crash after pre-commit, checkpoint not persisted: recover deletes", func(r *run) {
		s := r.start(nil)
		r.write(s, 0, 20)
		r.preCommit(s, 1)
		s2 := r.newSink(nil)
		r.recover(s2, 0, nil)
		r.expect(0, 0)
		r.close(s2)
	}},
	{"crash before pre-commit: recover deletes staged files", func(r *run) {
		s := r.start(nil)
		r.write(s, 0, 20)
		h1 := r.preCommit(s, 1)
		r.commit(s, 1, h1)
		r.write(s, 20, 20) // staged for checkpoint 2, never pre-committed
		s2 := r.newSink(nil)
		r.recover(s2, 1, h1)
		r.expect(20, 0)
		// the replay goes to checkpoint 2 and is committed once
		r.write(s2, 20, 20)
		r.commit(s2, 2, r.preCommit(s2, 2))
		r.expect(40, 0)
		r.close(s2)
	}},
	{"crash during commit: recover finishes it", func(r *run) {
		// The first create, sync, rename and directory sync are the commit
		// log's; rename 2 is the first of the data files.
		for _, at := range []struct {
			op Op
			n  int
		}{{OpMkdirAll, 1}, {OpCreate, 1}, {OpSync, 1}, {OpRename, 1}, {OpSyncDir, 1}, {OpRename, 2}, {OpSyncDir, 4}} {
			ff := NewFaultFS(nil)
			s := r.newSink(ff)
			first := r.h.Committed(r.t)
			id := uint64(first/20 + 1)
			r.recover(s, id-1, nil)
			r.write(s, first, 20)
			h := r.preCommit(s, id)
			ff.CrashAt(at.op, at.n)
			if err := s.Commit(context.Background(), id, h); !errors.Is(err, ErrInjected) {
				r.t.Fatalf("Commit with failing %s %d: err = %v, want ErrInjected", at.op, at.n, err)
			}
			s2 := r.newSink(nil)
			r.recover(s2, id, h)
			r.expect(first+20, 0)
			r.close(s2)
		}
	}},
	{"crash during pre-commit: recover deletes", func(r *run) {
		for _, op := range []Op{OpWrite, OpSync, OpClose, OpSyncDir} {
			ff := NewFaultFS(nil)
			s := r.newSink(ff)
			r.recover(s, 0, nil)
			r.write(s, 0, 20)
			ff.CrashAt(op, 1)
			if _, err := s.PreCommit(context.Background(), 1); !errors.Is(err, ErrInjected) {
				r.t.Fatalf("PreCommit with failing %s: err = %v, want ErrInjected", op, err)
			}
			s2 := r.newSink(nil)
			r.recover(s2, 0, nil)
			r.expect(0, 0)
			r.close(s2)
		}
	}},
	{"failed pre-commit then close aborts", func(r *run) {
		ff := NewFaultFS(nil)
		s := r.start(ff)
		r.write(s, 0, 20)
		ff.FailOnce(OpSync, 1)
		if _, err := s.PreCommit(context.Background(), 1); !errors.Is(err, ErrInjected) {
			r.t.Fatalf("PreCommit with failing sync: err = %v, want ErrInjected", err)
		}
		r.close(s)
		r.expect(0, 0)
	}},
	{"close keeps pre-committed files for recover", func(r *run) {
		s := r.start(nil)
		r.write(s, 0, 20)
		h := r.preCommit(s, 1)
		r.write(s, 20, 20)
		r.close(s) // deletes checkpoint 2's staged files, keeps checkpoint 1's
		r.expect(0, len(handleFiles(r.t, h)))
		s2 := r.newSink(nil)
		r.recover(s2, 1, h)
		r.expect(20, 0)
		r.close(s2)
	}},
	{"commit of a handle whose files are gone fails", func(r *run) {
		s := r.start(nil)
		r.write(s, 0, 20)
		h := r.preCommit(s, 1)
		for _, e := range handleFiles(r.t, h) {
			if err := os.Remove(filepath.Join(r.h.Root, filepath.FromSlash(e.Staged))); err != nil {
				r.t.Fatal(err)
			}
		}
		if err := s.Commit(context.Background(), 1, h); err == nil {
			r.t.Error("Commit of missing files succeeded")
		}
		r.close(s)
	}},
	{"checkpoint ids must increase", func(r *run) {
		s := r.newSink(nil)
		r.recover(s, 5, nil)
		r.write(s, 0, 20)
		if _, err := s.PreCommit(context.Background(), 5); err == nil {
			r.t.Error("PreCommit(5) after Recover(5) succeeded")
		}
		r.commit(s, 6, r.preCommit(s, 6))
		r.expect(20, 0)
		if err := s.Commit(context.Background(), 7, r.preCommit(s, 6+1)); err != nil {
			r.t.Errorf("empty Commit(7): %v", err)
		}
		r.close(s)
	}},
	{"a handle of another checkpoint is refused", func(r *run) {
		s := r.start(nil)
		r.write(s, 0, 20)
		h := r.preCommit(s, 1)
		if err := s.Commit(context.Background(), 2, h); err == nil {
			r.t.Error("Commit(2) with the handle of checkpoint 1 succeeded")
		}
		r.commit(s, 1, h)
		r.expect(20, 0)
		r.close(s)
	}},
}
