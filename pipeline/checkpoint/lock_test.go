package checkpoint

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shardflow/shardflow/pipeline"
)

// wantEpoch returns the epoch in job's EPOCH file.
func wantEpoch(t *testing.T, root, job string) uint64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, job, epochName))
	if err != nil {
		t.Fatal(err)
	}
	epoch, err := decodeEpoch(b)
	if err != nil {
		t.Fatalf("EPOCH %q: %v", b, err)
	}
	return epoch
}

func wantLocked(t *testing.T, err error, wants ...string) {
	t.Helper()
	if !errors.Is(err, pipeline.ErrStoreLocked) {
		t.Fatalf("Acquire = %v, want ErrStoreLocked", err)
	}
	for _, want := range wants {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%s", want, err)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error is not one line:\n%s", err)
	}
}

// TestAcquireEpochs: every Acquire of a job has a greater epoch than the one
// before, durably in EPOCH, and the LOCK file names the holder.
func TestAcquireEpochs(t *testing.T) {
	root := t.TempDir()
	for want := uint64(1); want <= 3; want++ {
		d := newTestDir(t, root, DirConfig{}, nil)
		l, err := d.Acquire(t.Context(), "j")
		if err != nil {
			t.Fatal(err)
		}
		if l.Epoch() != want {
			t.Errorf("epoch %d, want %d", l.Epoch(), want)
		}
		if got := wantEpoch(t, root, "j"); got != want {
			t.Errorf("EPOCH holds %d, want %d", got, want)
		}
		b, err := os.ReadFile(filepath.Join(root, "j", lockName))
		if err != nil || !strings.HasPrefix(string(b), fmt.Sprintf("pid %d\nsince ", os.Getpid())) {
			t.Errorf("LOCK holds %q, %v", b, err)
		}
		if err := l.Release(); err != nil {
			t.Fatal(err)
		}
		if err := l.Release(); err != nil {
			t.Fatalf("second Release: %v", err)
		}
	}
	if got := dirNames(t, root, "j"); len(got) != 0 {
		t.Errorf("files besides LOCK and EPOCH: %v", got)
	}
}

// TestTwoDirsOneProcess: flock conflicts between two opens of the LOCK file
// in one process, so two stores on one root exclude each other as two
// processes do; a store refuses to acquire a job twice.
func TestTwoDirsOneProcess(t *testing.T) {
	root := t.TempDir()
	d1 := newTestDir(t, root, DirConfig{}, nil)
	d2 := newTestDir(t, root, DirConfig{}, nil)
	l1 := hold(t, d1, "j")
	save(t, d1, "j", 1)

	_, err := d2.Acquire(t.Context(), "j")
	wantLocked(t, err, fmt.Sprintf("checkpoint: another store of this process (pid %d, since ", os.Getpid()),
		fmt.Sprintf(`runs job "j" on %s; stop it first, or use another --checkpoints directory`, root))
	_, err = d1.Acquire(t.Context(), "j")
	wantLocked(t, err, "this store already holds it (epoch 1)")
	if err := d2.Save(t.Context(), at(ckpt("j", 2), l1)); !errors.Is(err, ErrNotAcquired) {
		t.Fatalf("Save by the store without the lock = %v, want ErrNotAcquired", err)
	}
	hold(t, d2, "other") // other jobs are not affected

	if err := l1.Release(); err != nil {
		t.Fatal(err)
	}
	l2 := hold(t, d2, "j")
	if l2.Epoch() != 2 {
		t.Errorf("epoch %d after a release, want 2", l2.Epoch())
	}
	if err := d1.Save(t.Context(), at(ckpt("j", 2), l1)); !errors.Is(err, ErrNotAcquired) {
		t.Fatalf("Save after Release = %v, want ErrNotAcquired", err)
	}
	save(t, d2, "j", 2)
	wantLatest(t, d1, "j", 2)
}

const helperEnv = "SHARDFLOW_CHECKPOINT_LOCK_HELPER"

// TestLockHelperProcess is not a test: TestOtherProcess runs the test binary
// again with it as a second process that acquires the job in the directory
// named by $SHARDFLOW_CHECKPOINT_LOCK_HELPER, says so on stdout and holds it
// until stdin closes.
func TestLockHelperProcess(t *testing.T) {
	root := os.Getenv(helperEnv)
	if root == "" {
		t.Skip("helper process for TestOtherProcess")
	}
	d, err := NewDir(root, DirConfig{})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	l, err := d.Acquire(t.Context(), "j")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("locked", l.Epoch())
	_, _ = io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// TestOtherProcess: a job that a second process holds cannot be acquired,
// and the error names that process; it can once the process released the
// lock by exiting or was killed.
func TestOtherProcess(t *testing.T) {
	for _, end := range []string{"exit", "kill"} {
		t.Run(end, func(t *testing.T) {
			root := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelperProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(), helperEnv+"="+root)
			cmd.Stderr = os.Stderr
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			line, err := bufio.NewReader(stdout).ReadString('\n')
			if err != nil || line != "locked 1\n" {
				t.Fatalf("helper said %q, %v", line, err)
			}

			d := newTestDir(t, root, DirConfig{}, nil)
			_, err = d.Acquire(t.Context(), "j")
			wantLocked(t, err, fmt.Sprintf("checkpoint: another shardflow (pid %d, since ", cmd.Process.Pid),
				fmt.Sprintf(`runs job "j" on %s; stop it first`, root))

			if end == "kill" {
				err = cmd.Process.Kill()
			} else {
				err = stdin.Close()
			}
			if err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait() // the process is gone, and its lock with it
			l := hold(t, d, "j")
			if l.Epoch() != 2 {
				t.Errorf("epoch %d, want 2", l.Epoch())
			}
			save(t, d, "j", 1)
		})
	}
}

// TestDirectoryRemoved: a process whose checkpoint directory is removed (or
// moved away and replaced) while it runs can never save again, even though
// a second process that locks the new directory starts again at epoch 1.
func TestDirectoryRemoved(t *testing.T) {
	for _, how := range []string{"removed", "replaced", "removed, nobody took over"} {
		t.Run(how, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "ckpt")
			d1 := newTestDir(t, root, DirConfig{}, nil)
			l1 := hold(t, d1, "j")
			save(t, d1, "j", 1)
			switch how {
			case "replaced":
				if err := os.Rename(root, root+".old"); err != nil {
					t.Fatal(err)
				}
			default:
				if err := os.RemoveAll(root); err != nil {
					t.Fatal(err)
				}
			}
			if how != "removed, nobody took over" {
				d2 := newTestDir(t, root, DirConfig{}, nil)
				l2 := hold(t, d2, "j")
				if l2.Epoch() != 1 {
					t.Fatalf("second process's epoch %d, want 1 (it sees an empty directory)", l2.Epoch())
				}
				save(t, d2, "j", 1)
			}
			err := d1.Save(t.Context(), at(ckpt("j", 2), l1))
			if !errors.Is(err, pipeline.ErrFenced) || !strings.Contains(err.Error(), "is no longer the file this process locked") {
				t.Fatalf("Save after the directory was %s = %v, want ErrFenced", how, err)
			}
			if how == "removed, nobody took over" {
				if _, err := os.Stat(root); err == nil {
					t.Error("the fenced Save recreated the directory")
				}
			}
		})
	}
}

// TestReplacedDuringSave: a directory replaced between Save's fence check
// and its write (which then lands in the new directory) makes Save report
// ErrFenced, so that the caller does not commit.
func TestReplacedDuringSave(t *testing.T) {
	root := filepath.Join(t.TempDir(), "ckpt")
	fsys := newFaultFS()
	d1 := newTestDir(t, root, DirConfig{}, fsys)
	l1 := hold(t, d1, "j")
	save(t, d1, "j", 1)
	fsys.before = func(step string) {
		if step != "create" {
			return
		}
		fsys.before = nil
		if err := os.Rename(root, root+".old"); err != nil {
			t.Error(err)
		}
		if err := os.MkdirAll(filepath.Join(root, "j"), 0o750); err != nil {
			t.Error(err)
		}
	}
	err := d1.Save(t.Context(), at(ckpt("j", 2), l1))
	if !errors.Is(err, pipeline.ErrFenced) || !strings.Contains(err.Error(), "taken over during the save") {
		t.Fatalf("Save = %v, want ErrFenced", err)
	}
}

// TestUnknownAfterSave: when the store cannot tell, after writing, whether
// it was taken over during the save (the EPOCH file cannot be read), Save
// fails, so that the caller does not commit; the checkpoint stays written,
// for a restart to commit.
func TestUnknownAfterSave(t *testing.T) {
	root := filepath.Join(t.TempDir(), "ckpt")
	fsys := newFaultFS()
	d := newTestDir(t, root, DirConfig{}, fsys)
	l := hold(t, d, "j")
	save(t, d, "j", 1)
	fsys.before = func(step string) {
		if step == "rename" {
			fsys.before = nil
			fsys.setN("readfile", errInjected, 1)
		}
	}
	if err := d.Save(t.Context(), at(ckpt("j", 2), l)); !errors.Is(err, errInjected) {
		t.Fatalf("Save with the epoch unreadable after the write = %v, want the read's error", err)
	}
	if cp, err := d.Latest(t.Context(), "j"); err != nil || cp == nil || cp.ID != 2 {
		t.Fatalf("Latest = %v, %v; want checkpoint 2", cp, err)
	}
}

// TestEpochTakenOver: a Save under an epoch the store has moved past is
// fenced, and so is one when the EPOCH file is gone.
func TestEpochTakenOver(t *testing.T) {
	root := t.TempDir()
	d := newTestDir(t, root, DirConfig{}, nil)
	l := hold(t, d, "j")
	save(t, d, "j", 1)
	path := filepath.Join(root, "j", epochName)
	if err := os.WriteFile(path, encodeEpoch(5), 0o600); err != nil {
		t.Fatal(err)
	}
	err := d.Save(t.Context(), at(ckpt("j", 2), l))
	if !errors.Is(err, pipeline.ErrFenced) || !strings.Contains(err.Error(), "the store's epoch is 5, this process holds 1") {
		t.Fatalf("Save = %v, want ErrFenced", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := d.Save(t.Context(), at(ckpt("j", 2), l)); !errors.Is(err, pipeline.ErrFenced) || !strings.Contains(err.Error(), "epoch file is gone") {
		t.Fatalf("Save without EPOCH = %v, want ErrFenced", err)
	}
	wantLatest(t, d, "j", 1)
}

// TestEpochFollowsNewestCheckpoint: a lost EPOCH file does not make epochs go
// back: the next one exceeds the newest checkpoint's.
func TestEpochFollowsNewestCheckpoint(t *testing.T) {
	root := t.TempDir()
	d := newTestDir(t, root, DirConfig{}, nil)
	for range 3 {
		if err := hold(t, d, "j").Release(); err != nil {
			t.Fatal(err)
		}
	}
	save(t, d, "j", 1) // under epoch 4
	if err := os.Remove(filepath.Join(root, "j", epochName)); err != nil {
		t.Fatal(err)
	}
	if l := hold(t, d, "j"); l.Epoch() != 5 {
		t.Fatalf("epoch %d after EPOCH was lost, want 5", l.Epoch())
	}
	if got := wantEpoch(t, root, "j"); got != 5 {
		t.Errorf("EPOCH holds %d, want 5", got)
	}
}

// TestEpochDamaged: a damaged EPOCH file fails Acquire with an error naming
// it (never epoch 0), holds nothing, and fails a Save during the run.
func TestEpochDamaged(t *testing.T) {
	good := string(encodeEpoch(7))
	tests := []struct {
		name, content, why string
	}{
		{"empty", "", "not an epoch file"},
		{"garbage", "hello\n", "not an epoch file"},
		{"bit flip", strings.Replace(good, "7", "6", 1), "checksum mismatch"},
		{"no newline", strings.TrimSuffix(good, "\n"), "not an epoch file"},
		{"newer version", strings.Replace(good, " 1 ", " 2 ", 1), "written by a newer shardflow; upgrade"},
		{"leading zero", "SFEPOCH 1 07 " + good[len("SFEPOCH 1 7 "):], "checksum mismatch"},
		{"bad number", "SFEPOCH 1 x 00000000\n", `bad epoch "x"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			path := filepath.Join(root, "j", epochName)
			save(t, newTestDir(t, root, DirConfig{}, nil), "j", 1)
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			for range 2 { // the second time checks that the first held nothing
				_, err := newTestDir(t, root, DirConfig{}, nil).Acquire(t.Context(), "j")
				for _, want := range []string{"the epoch file " + path + " is damaged (", tc.why, "restore it"} {
					if err == nil || !strings.Contains(err.Error(), want) {
						t.Errorf("Acquire = %v, want an error with %q", err, want)
					}
				}
				if errors.Is(err, pipeline.ErrStoreLocked) {
					t.Errorf("Acquire = %v, a failed Acquire held the lock", err)
				}
			}
		})
	}
	t.Run("during the run", func(t *testing.T) {
		root := t.TempDir()
		d := newTestDir(t, root, DirConfig{}, nil)
		l := hold(t, d, "j")
		if err := os.WriteFile(filepath.Join(root, "j", epochName), []byte("SFEPOCH 1 1 0\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := d.Save(t.Context(), at(ckpt("j", 1), l)); err == nil || !strings.Contains(err.Error(), "is damaged") {
			t.Fatalf("Save = %v, want the damage", err)
		}
	})
}

func TestEpochRoundTrip(t *testing.T) {
	for _, e := range []uint64{0, 1, 42, 1<<64 - 1} {
		if got, err := decodeEpoch(encodeEpoch(e)); err != nil || got != e {
			t.Errorf("decodeEpoch(encodeEpoch(%d)) = %d, %v", e, got, err)
		}
	}
	if got := string(encodeEpoch(1)); !strings.HasPrefix(got, "SFEPOCH 1 1 ") || len(got) != len("SFEPOCH 1 1 ")+9 {
		t.Errorf("encodeEpoch(1) = %q", got)
	}
}

// TestAcquireFaults: a failure at any step of Acquire (creating the
// directories, opening the LOCK file, reading and writing EPOCH, reading the
// newest checkpoint) fails it and leaves nothing locked.
func TestAcquireFaults(t *testing.T) {
	steps := []string{"mkdir", "syncdir", "openfile", "stat", "readfile", "readdir",
		"create", "write", "shortwrite", "sync", "close", "rename"}
	for _, step := range steps {
		t.Run(step, func(t *testing.T) {
			root := t.TempDir()
			save(t, newTestDir(t, root, DirConfig{}, nil), "j", 1) // epoch 1
			fsys := newFaultFS()
			d := newTestDir(t, root, DirConfig{}, fsys)
			fsys.set(step)
			l, err := d.Acquire(t.Context(), "j")
			fsys.clear()
			if l != nil || err == nil {
				t.Fatalf("Acquire succeeded despite the fault: epoch %d", l.Epoch())
			}
			want := errInjected
			if step == "shortwrite" {
				want = io.ErrShortWrite
			}
			if !errors.Is(err, want) {
				t.Fatalf("Acquire = %v, want %v", err, want)
			}
			if !strings.HasPrefix(err.Error(), `checkpoint: job "j": `) {
				t.Errorf("error %q lacks context", err)
			}
			if got := wantEpoch(t, root, "j"); got != 1 {
				t.Errorf("EPOCH holds %d after a failed Acquire, want 1", got)
			}
			if got := dirNames(t, root, "j"); !slices.Equal(got, ckptNames(1)) {
				t.Errorf("files after a failed Acquire: %v", got)
			}
			if err := d.Save(t.Context(), ckpt("j", 2)); !errors.Is(err, ErrNotAcquired) {
				t.Fatalf("Save after a failed Acquire = %v, want ErrNotAcquired", err)
			}
			// Nothing is locked, and the epoch only grows.
			other := hold(t, newTestDir(t, root, DirConfig{}, nil), "j")
			if e := other.Epoch(); e != 2 {
				t.Errorf("epoch %d after a failed Acquire, want 2", e)
			}
			if err := other.Release(); err != nil {
				t.Fatal(err)
			}
			l = hold(t, d, "j")
			save(t, d, "j", 2)
			wantLatest(t, d, "j", 2)
		})
	}
}

// TestLockedMessage: the holder's start reads as a time of day today and
// with its date before.
func TestLockedMessage(t *testing.T) {
	d := newTestDir(t, t.TempDir(), DirConfig{}, nil)
	now := time.Date(2026, 12, 2, 5, 50, 0, 0, time.Local)
	d.now = func() time.Time { return now }
	tests := []struct {
		h    holder
		want string
	}{
		{holder{pid: 1234, since: now.Add(-10 * time.Minute)}, "another shardflow (pid 1234, since 05:40:00) runs"},
		{holder{pid: 1234, since: now.Add(-24 * time.Hour)}, "another shardflow (pid 1234, since 2026-12-01 05:50:00) runs"},
		{holder{pid: 1234}, "another shardflow (pid 1234) runs"},
		{holder{}, "another shardflow runs"},
	}
	for _, tc := range tests {
		err := d.lockedError("x", tc.h)
		wantLocked(t, err, tc.want, strconv.Quote("x"))
	}
}
