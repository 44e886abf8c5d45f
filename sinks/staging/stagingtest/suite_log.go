package stagingtest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sinks/staging"
)

// commitN writes n rows from first on and commits them as checkpoint id.
func (r *run) commitN(s Subject, id uint64, first, n int) []byte {
	r.t.Helper()
	r.write(s, first, n)
	h := r.preCommit(s, id)
	r.commit(s, id, h)
	return h
}

// logEntries lists the commit log's entries under the root.
func (r *run) logEntries() []string {
	r.t.Helper()
	m, err := filepath.Glob(filepath.Join(r.h.Root, staging.LogDir, "commit-*.json"))
	if err != nil {
		r.t.Fatal(err)
	}
	return m
}

// refused checks that Recover with rec fails with an error wrapping want
// whose message contains every part.
func (r *run) refused(s Subject, rec pipeline.Recovery, want error, parts ...string) {
	r.t.Helper()
	err := s.Recover(context.Background(), rec)
	if !errors.Is(err, want) {
		r.t.Fatalf("Recover(%+v) = %v, want an error wrapping %v", rec, err, want)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			r.t.Errorf("Recover's error %q does not contain %q", err, p)
		}
	}
}

func (r *run) counter(s Subject, name string) int64 {
	return s.(pipeline.CounterReporter).Counters()[name]
}

var logSuite = []struct {
	name string
	run  func(r *run)
}{
	{"a fresh run into another run's output is refused, overwrite replaces it exactly", func(r *run) {
		// A new checkpoint directory, or a job without a checkpoint store:
		// the runtime gives a new run id and no checkpoint.
		s := r.start(nil)
		h1 := r.commitN(s, 1, 0, 20)
		h2 := r.commitN(s, 2, 20, 20)
		r.close(s)
		files := len(handleFiles(r.t, h1)) + len(handleFiles(r.t, h2))
		fresh := pipeline.Recovery{Job: testJob, Run: "run2"}
		r.refused(r.newSink(nil), fresh, staging.ErrUnaccounted,
			r.h.Root, `job "test"`, "run run1, checkpoints 1-2", "--overwrite")
		r.expect(40, 0)
		s2 := r.newSink(nil)
		fresh.Overwrite = true
		r.recoverWith(s2, fresh)
		r.expect(0, 0)
		if n := r.counter(s2, "files_overwritten"); n != int64(files) {
			r.t.Errorf("files_overwritten = %d, want %d", n, files)
		}
		if e := r.logEntries(); len(e) != 0 {
			r.t.Errorf("commit log after overwrite: %v, want empty", e)
		}
		r.commitN(s2, 1, 100, 10)
		r.expect(10, 0)
		r.close(s2)
		r.recoverWith(r.newSink(nil), pipeline.Recovery{Job: testJob, Run: "run2", ID: 1}) // run2's own output
	}},
	{"output of a lost checkpoint is refused, overwrite removes exactly it", func(r *run) {
		s := r.start(nil)
		var h3 []byte
		for id := uint64(1); id <= 5; id++ {
			h := r.commitN(s, id, int(id-1)*10, 10)
			if id == 3 {
				h3 = h
			}
		}
		r.close(s)
		// The checkpoint store lost checkpoints 4 and 5; 3 is its latest.
		r.refused(r.newSink(nil), recovery(3, h3), staging.ErrUnaccounted,
			"run run1, checkpoints 4-5 (newer than the restored checkpoint 3)")
		r.expect(50, 0)
		s2 := r.newSink(nil)
		rec := recovery(3, h3)
		rec.Overwrite = true
		r.recoverWith(s2, rec)
		r.expect(30, 0)
		if e := r.logEntries(); len(e) != 3 {
			r.t.Errorf("commit log after overwrite: %v, want checkpoints 1-3", e)
		}
		r.commitN(s2, 4, 30, 10) // the replay of checkpoint 4
		r.expect(40, 0)
		r.close(s2)
	}},
	{"a replay replaces its own earlier output, and only its own", func(r *run) {
		// The first start of a replay commits checkpoints 1-3 with epoch 4.
		first := pipeline.Recovery{Job: testJob, Run: "replay-1", Epoch: 4, Replay: true}
		s := r.newSink(nil)
		r.recoverWith(s, first)
		r.commitN(s, 1, 0, 10)
		h2 := r.commitN(s, 2, 10, 10)
		r.commitN(s, 3, 20, 10)
		r.close(s)
		files := len(r.logEntries())
		// Another job's output in the same directory stays.
		b := r.newSink(nil)
		r.recoverWith(b, pipeline.Recovery{Job: "other", Run: "b1"})
		hb := r.commitN(b, 1, 100, 5)
		r.close(b)
		r.expect(35, 0)
		// Resumed from checkpoint 2 of a damaged checkpoint directory: 3 is
		// replaced, not refused, and written again under the same name.
		resumed := first
		resumed.ID, resumed.Handle, resumed.Epoch = 2, h2, 5
		s = r.newSink(nil)
		r.recoverWith(s, resumed)
		r.expect(25, 0)
		r.commitN(s, 3, 20, 10)
		r.expect(35, 0)
		r.close(s)
		if n := len(r.logEntries()); n != files+1 {
			r.t.Errorf("commit log entries = %d, want %d", n, files+1)
		}
		// Started again with a fresh checkpoint directory (epoch 2): all of
		// its output is replaced, whatever the epoch that wrote it.
		fresh := pipeline.Recovery{Job: testJob, Run: "replay-1", Epoch: 2, Replay: true}
		s = r.newSink(nil)
		r.recoverWith(s, fresh)
		r.expect(5, 0)
		if n := r.counter(s, "files_overwritten"); n != int64(files) {
			r.t.Errorf("files_overwritten = %d, want %d", n, files)
		}
		h1 := r.commitN(s, 1, 0, 30)
		r.expect(35, 0)
		r.close(s)
		// A replay of another range into this output is refused as any
		// other run is; an older process of the replay is fenced off by
		// what the checkpoint accounts for.
		r.refused(r.newSink(nil), pipeline.Recovery{Job: testJob, Run: "replay-2", Replay: true}, staging.ErrUnaccounted, "run replay-1, checkpoint 1")
		stale := fresh
		stale.ID, stale.Handle, stale.Epoch = 1, h1, 1
		r.refused(r.newSink(nil), stale, pipeline.ErrFenced, "epoch 2")
		r.recoverWith(r.newSink(nil), pipeline.Recovery{Job: "other", Run: "b1", ID: 1, Handle: hb})
		r.expect(35, 0)
	}},
	{"a missing committed file is named", func(r *run) {
		s := r.start(nil)
		h1 := r.commitN(s, 1, 0, 20)
		h2 := r.commitN(s, 2, 20, 20)
		r.close(s)
		gone := handleFiles(r.t, h1)[0].Final
		if err := os.Remove(filepath.Join(r.h.Root, filepath.FromSlash(gone))); err != nil {
			r.t.Fatal(err)
		}
		r.refused(r.newSink(nil), recovery(2, h2), staging.ErrMissing,
			"committed file "+gone+" of checkpoint 1 is missing", "--overwrite")
		// A partition dropped by retention: --overwrite forgets the file.
		s2 := r.newSink(nil)
		rec := recovery(2, h2)
		rec.Overwrite = true
		r.recoverWith(s2, rec)
		if n := r.counter(s2, "files_forgotten"); n != 1 {
			r.t.Errorf("files_forgotten = %d, want 1", n)
		}
		r.close(s2)
		r.recover(r.newSink(nil), 2, h2)
		// The handle being recovered lost a file too.
		gone = handleFiles(r.t, h2)[0].Final
		if err := os.Remove(filepath.Join(r.h.Root, filepath.FromSlash(gone))); err != nil {
			r.t.Fatal(err)
		}
		r.refused(r.newSink(nil), recovery(2, h2), staging.ErrMissing, gone+" of checkpoint 2")
	}},
	{"crash between the log and the renames: recover commits", func(r *run) {
		ff := NewFaultFS(nil)
		s := r.start(ff)
		r.write(s, 0, 20)
		h := r.preCommit(s, 1)
		ff.CrashAt(OpRename, 2) // the log entry's rename is the first
		if err := s.Commit(context.Background(), 1, h); !errors.Is(err, ErrInjected) {
			r.t.Fatalf("Commit with a crash at the first data rename = %v, want ErrInjected", err)
		}
		if e := r.logEntries(); len(e) != 1 {
			r.t.Fatalf("commit log after the crash: %v, want checkpoint 1's entry", e)
		}
		r.expect(0, len(handleFiles(r.t, h)))
		s2 := r.newSink(nil)
		r.recover(s2, 1, h)
		r.expect(20, 0)
		r.close(s2)
		r.recover(r.newSink(nil), 1, h)
		r.expect(20, 0)
	}},
	{"crash while overwriting: overwrite again finishes", func(r *run) {
		s := r.start(nil)
		r.commitN(s, 1, 0, 20)
		r.commitN(s, 2, 20, 20)
		r.close(s)
		ff := NewFaultFS(nil)
		ff.CrashAt(OpRemove, 2) // after the first committed file
		over := pipeline.Recovery{Job: testJob, Run: "run2", Overwrite: true}
		if err := r.newSink(ff).Recover(context.Background(), over); !errors.Is(err, ErrInjected) {
			r.t.Fatalf("Recover with a crash while overwriting = %v, want ErrInjected", err)
		}
		fresh := over
		fresh.Overwrite = false
		r.refused(r.newSink(nil), fresh, staging.ErrUnaccounted, "run run1, checkpoints 1-2")
		s2 := r.newSink(nil)
		r.recoverWith(s2, over)
		r.expect(0, 0)
		if e := r.logEntries(); len(e) != 0 {
			r.t.Errorf("commit log after overwrite: %v, want empty", e)
		}
		r.close(s2)
	}},
	{"other jobs' files in the same directory are untouched", func(r *run) {
		s := r.start(nil)
		r.commitN(s, 1, 0, 20)
		r.close(s)
		other := pipeline.Recovery{Job: "other", Run: "b1"}
		b := r.newSink(nil)
		r.recoverWith(b, other) // the test job's output is not the other job's business
		hb := r.commitN(b, 1, 100, 10)
		r.close(b)
		r.expect(30, 0)
		s2 := r.newSink(nil)
		r.recoverWith(s2, pipeline.Recovery{Job: testJob, Run: "run2", Overwrite: true})
		r.expect(10, 0)
		r.close(s2)
		other.ID, other.Handle = 1, hb
		r.recoverWith(r.newSink(nil), other)
		r.expect(10, 0)
	}},
	{"other jobs' staged files in the same directory are untouched", func(r *run) {
		other := pipeline.Recovery{Job: "other", Run: "b1"}
		b := r.newSink(nil)
		r.recoverWith(b, other)
		r.write(b, 100, 10)
		hb := r.preCommit(b, 1) // the other job saves checkpoint 1 and is about to commit it
		s := r.start(nil)       // the test job starts meanwhile (or restarts with a new run)
		r.close(s)
		r.commit(b, 1, hb)
		r.expect(10, 0)
		r.close(b)
		// A run of the test job that crashed before its first checkpoint
		// leaves staged files that a later run of the job still deletes.
		crashed := r.newSink(nil)
		r.recoverWith(crashed, pipeline.Recovery{Job: testJob, Run: "run0"})
		r.write(crashed, 0, 20)
		r.preCommit(crashed, 1)
		r.recoverWith(r.newSink(nil), pipeline.Recovery{Job: testJob, Run: "run2"})
		r.expect(10, 0)
	}},
	{"a stale process is fenced off", func(r *run) {
		s := r.newSink(nil)
		rec := recovery(0, nil)
		rec.Epoch = 2
		r.recoverWith(s, rec)
		h := r.commitN(s, 1, 0, 20)
		r.close(s)
		stale := recovery(1, h)
		stale.Epoch, stale.Overwrite = 1, true
		r.refused(r.newSink(nil), stale, pipeline.ErrFenced, "epoch 2", "epoch")
		newer := recovery(1, h)
		newer.Epoch = 3
		r.recoverWith(r.newSink(nil), newer)
		r.expect(20, 0)
	}},
	{"an unreadable commit log is an error", func(r *run) {
		s := r.start(nil)
		h := r.commitN(s, 1, 0, 20)
		r.close(s)
		e := r.logEntries()
		if len(e) != 1 {
			r.t.Fatalf("commit log %v, want one entry", e)
		}
		if err := os.WriteFile(e[0], []byte("nope"), 0o644); err != nil {
			r.t.Fatal(err)
		}
		if err := r.newSink(nil).Recover(context.Background(), recovery(1, h)); err == nil || !strings.Contains(err.Error(), e[0]) {
			r.t.Errorf("Recover with a damaged log entry = %v, want an error naming %s", err, e[0])
		}
	}},
}
