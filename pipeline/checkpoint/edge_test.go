package checkpoint

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// builderJobName is the job-name rule of pipeline.Builder.Build.
var builderJobName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// TestBuilderJobNamesAreStorable: every name the builder accepts must be a
// name the store accepts, or a valid job could not checkpoint.
func TestBuilderJobNamesAreStorable(t *testing.T) {
	names := []string{"a", "0", "A.", "a..", "a..b", "x-_.", "chk-00000000000000000001.ckpt",
		"job.tmp", "x.corrupt", strings.Repeat("j", 128), "CON", "nul.txt"}
	for _, job := range names {
		if !builderJobName.MatchString(job) {
			t.Fatalf("test name %q is not builder-valid", job)
		}
		if err := validateJob(job); err != nil {
			t.Errorf("builder-valid job %q refused by the store: %v", job, err)
		}
	}
	d := newTestDir(t, t.TempDir(), DirConfig{Keep: 1}, nil)
	for _, job := range names {
		save(t, d, job, 1, 2)
		wantLatest(t, d, job, 2)
	}
}

// TestCrashBetweenRenameAndDirSync: the process dies after the rename, before
// the directory fsync returns. After a restart either the new checkpoint is
// there whole, or the previous one is the latest and the temporary file is
// cleaned up by the next Save; both restart cleanly.
func TestCrashBetweenRenameAndDirSync(t *testing.T) {
	for _, renameSurvived := range []bool{true, false} {
		t.Run(map[bool]string{true: "rename durable", false: "rename lost"}[renameSurvived], func(t *testing.T) {
			root := t.TempDir()
			ffs := newFaultFS()
			d := newTestDir(t, root, DirConfig{Keep: 1}, ffs)
			l := hold(t, d, "j")
			save(t, d, "j", 1)
			ffs.set("syncdir")
			ffs.set("remove") // dead: nothing is taken back
			if err := d.Save(t.Context(), at(ckpt("j", 2), l)); err == nil {
				t.Fatal("Save through a crash succeeded")
			}
			_ = l.Release()      // the process is gone
			if !renameSurvived { // put the state back to "renamed file lost, temp file left"
				tmp := filepath.Join(root, "j", ".chk-00000000000000000002-crash.tmp")
				if err := os.Rename(filepath.Join(root, "j", fileName(2)), tmp); err != nil {
					t.Fatal(err)
				}
			}
			restarted := newTestDir(t, root, DirConfig{Keep: 1}, nil)
			want := uint64(1)
			if renameSurvived {
				want = 2
			}
			wantLatest(t, restarted, "j", want)
			save(t, restarted, "j", want+1)
			if got := dirNames(t, root, "j"); !slices.Equal(got, ckptNames(want+1)) {
				t.Fatalf("files %v, want %v", got, ckptNames(want+1))
			}
		})
	}
}

// TestKeepOneDamaged: with Keep 1 a damaged only checkpoint is refused like
// any damaged newest one, and the error does not offer a fallback.
func TestKeepOneDamaged(t *testing.T) {
	root := t.TempDir()
	d := newTestDir(t, root, DirConfig{Keep: 1}, nil)
	save(t, d, "j", 1, 2, 3)
	if got := dirNames(t, root, "j"); !slices.Equal(got, ckptNames(3)) {
		t.Fatalf("files %v, want only checkpoint 3", got)
	}
	path := filepath.Join(root, "j", fileName(3))
	if err := os.WriteFile(path, []byte("SFCK garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	restarted := newTestDir(t, root, DirConfig{Keep: 1}, nil)
	_, err := restarted.Latest(t.Context(), "j")
	wantUnreadable(t, err, "j", path, 0, "ckptfmt: ")
	_, err = restarted.Acquire(t.Context(), "j")
	wantUnreadable(t, err, "j", path, 0, "ckptfmt: ")
}

// TestConcurrentSaveLatestOneJob: readers calling Latest while the job's
// coordinator saves never see an error, a torn checkpoint or time going back.
func TestConcurrentSaveLatestOneJob(t *testing.T) {
	d := newTestDir(t, t.TempDir(), DirConfig{Keep: 1}, nil)
	l := hold(t, d, "j")
	save(t, d, "j", 1)
	const last = 60
	var wg sync.WaitGroup
	done := make(chan struct{})
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen := uint64(0)
			for {
				select {
				case <-done:
					return
				default:
				}
				cp, err := d.Latest(t.Context(), "j")
				if err != nil || cp == nil || cp.ID < seen {
					t.Errorf("Latest = %v, %v after %d", cp, err, seen)
					return
				}
				seen = cp.ID
			}
		}()
	}
	for id := uint64(2); id <= last; id++ {
		if err := d.Save(t.Context(), at(ckpt("j", id), l)); err != nil {
			t.Errorf("Save(%d): %v", id, err)
			break
		}
	}
	close(done)
	wg.Wait()
	wantLatest(t, d, "j", last)
}
