package checkpoint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shardflow/shardflow/internal/ckptfmt"
)

// corruptions damage a checkpoint file's bytes the way a crash, a disk or a
// careless operator might.
var corruptions = []struct {
	name   string
	damage func(b []byte) []byte
	want   error  // what the error wraps, nil when it is not a ckptfmt error
	why    string // what the error says about the file
}{
	{"empty", func(b []byte) []byte { return nil }, ckptfmt.ErrTruncated, "truncated input"},
	{"header only", func(b []byte) []byte { return b[:ckptfmt.Overhead-4] }, ckptfmt.ErrTruncated, "truncated input"},
	{"half", func(b []byte) []byte { return b[:len(b)/2] }, ckptfmt.ErrTruncated, "truncated input"},
	{"last byte lost", func(b []byte) []byte { return b[:len(b)-1] }, ckptfmt.ErrTruncated, "truncated input"},
	{"bit flip", func(b []byte) []byte { b[len(b)/2] ^= 0x04; return b }, ckptfmt.ErrChecksum, "checksum mismatch"},
	{"zeroed block", func(b []byte) []byte { clear(b[20:60]); return b }, ckptfmt.ErrChecksum, "checksum mismatch"},
	{"not a checkpoint", func(b []byte) []byte { return []byte("hello") }, ckptfmt.ErrBadMagic, "bad magic"},
	{"newer format", func(b []byte) []byte { binary.BigEndian.PutUint16(b[4:], ckptfmt.Version+1); return b },
		ckptfmt.ErrUnsupportedVersion, "written by a newer shardflow; upgrade"},
	{"copy of another checkpoint", nil, nil, `it holds checkpoint 2 of job "j"`}, // filled in by the test: chk-2's bytes under chk-3's name
}

func damage(t *testing.T, path string, f func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, f(b), 0o600); err != nil {
		t.Fatal(err)
	}
}

// wantUnreadable asserts that err is the refusal to go past the damaged
// newest checkpoint file path, in one line that names the file, the
// checkpoint it will not fall back to, and the way on.
func wantUnreadable(t *testing.T, err error, job, path string, older uint64, why string) {
	t.Helper()
	var ue *UnreadableError
	if !errors.Is(err, ErrUnreadableCheckpoint) || !errors.As(err, &ue) {
		t.Fatalf("error = %v, want an *UnreadableError", err)
	}
	if ue.Job != job || ue.Path != path || ue.Older != older {
		t.Errorf("UnreadableError{Job: %q, Path: %q, Older: %d}, want %q, %q, %d", ue.Job, ue.Path, ue.Older, job, path, older)
	}
	instead := "will not start the job from scratch"
	if older != 0 {
		instead = fmt.Sprintf("will not fall back to checkpoint %d", older)
	}
	msg := err.Error()
	for _, want := range []string{
		fmt.Sprintf("checkpoint: job %q: the newest checkpoint %s cannot be read (", job, path),
		why, "its output may be committed", instead,
		"restore the file, or start over with a new checkpoint directory and --overwrite",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("error is not one line:\n%s", msg)
	}
}

// TestLatestRefusesDamagedNewest is the crash-consistency test: whatever
// happened to the newest file, Latest refuses to go on, naming the file,
// rather than fall back to the checkpoint before (whose successor's output
// may be committed). Save refuses too; nothing in the directory changes.
func TestLatestRefusesDamagedNewest(t *testing.T) {
	for _, tc := range corruptions {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			save(t, newTestDir(t, root, DirConfig{}, nil), "j", 1, 2, 3)
			newest := filepath.Join(root, "j", fileName(3))
			fn := tc.damage
			if fn == nil {
				prev, err := os.ReadFile(filepath.Join(root, "j", fileName(2)))
				if err != nil {
					t.Fatal(err)
				}
				fn = func([]byte) []byte { return prev }
			}
			damage(t, newest, fn)

			var logs logBuffer
			d := newTestDir(t, root, DirConfig{Logger: logs.logger()}, nil)
			cp, err := d.Latest(t.Context(), "j")
			if cp != nil {
				t.Fatalf("Latest returned checkpoint %d", cp.ID)
			}
			wantUnreadable(t, err, "j", newest, 2, tc.why)
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Latest error %v is not %v", err, tc.want)
			}
			if _, err := d.Load(t.Context(), "j", 3); tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Load(3) = %v, want %v", err, tc.want)
			}
			if cp, err := d.Load(t.Context(), "j", 2); err != nil || cp.ID != 2 {
				t.Errorf("Load(2) = %v, %v; the older checkpoint stays readable for inspection", cp, err)
			}

			// Acquire refuses too, and holds nothing after: a second store gets
			// the same refusal, not "locked".
			for _, d := range []*Dir{d, newTestDir(t, root, DirConfig{}, nil)} {
				l, err := d.Acquire(t.Context(), "j")
				if l != nil {
					t.Fatalf("Acquire succeeded with epoch %d", l.Epoch())
				}
				wantUnreadable(t, err, "j", newest, 2, tc.why)
			}
			if err := d.Save(t.Context(), ckpt("j", 4)); !errors.Is(err, ErrNotAcquired) {
				t.Fatalf("Save without the lock = %v, want ErrNotAcquired", err)
			}
			if got := dirNames(t, root, "j"); !slices.Equal(got, ckptNames(1, 2, 3)) {
				t.Fatalf("files %v", got)
			}
			if l := logs.String(); l != "" {
				t.Errorf("unexpected logs:\n%s", l)
			}
		})
	}
}

func TestLatestReadError(t *testing.T) {
	root := t.TempDir()
	save(t, newTestDir(t, root, DirConfig{}, nil), "j", 1, 2)
	fsys := newFaultFS()
	fsys.set("readfile")
	d := newTestDir(t, root, DirConfig{}, fsys)
	_, err := d.Latest(t.Context(), "j")
	if !errors.Is(err, errInjected) {
		t.Fatalf("Latest = %v, want the read error", err)
	}
	wantUnreadable(t, err, "j", filepath.Join(root, "j", fileName(2)), 1, "(injected fault)")
}

// TestVanishingFiles: a checkpoint deleted between listing and reading (by a
// writer in another process) makes Latest list again, never report "none"
// or fall back.
func TestVanishingFiles(t *testing.T) {
	root := t.TempDir()
	save(t, newTestDir(t, root, DirConfig{}, nil), "j", 1, 2)
	tests := []struct {
		name    string
		n       int
		wantErr bool
	}{
		{"newest gone once", 1, false},
		{"newest gone twice", 2, false},
		{"always gone", -1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fsys := newFaultFS()
			fsys.setN("readfile", fs.ErrNotExist, tc.n)
			cp, err := newTestDir(t, root, DirConfig{}, fsys).Latest(t.Context(), "j")
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), "vanished 3 times") || errors.Is(err, ErrUnreadableCheckpoint) {
					t.Fatalf("Latest = %v, %v; want an error", cp, err)
				}
				return
			}
			if err != nil || cp == nil || cp.ID != 2 {
				t.Fatalf("Latest = %v, %v; want checkpoint 2", cp, err)
			}
		})
	}
}

// TestOnlyNewestMatters: damaged older checkpoints do not stop a job, since
// only the newest is ever restored; a damaged newest one with every older one
// damaged too is reported like any damaged newest one.
func TestOnlyNewestMatters(t *testing.T) {
	root := t.TempDir()
	save(t, newTestDir(t, root, DirConfig{Keep: 5}, nil), "j", 1, 2, 3, 4)
	for _, id := range []uint64{1, 2, 3} {
		damage(t, filepath.Join(root, "j", fileName(id)), func(b []byte) []byte { b[30] ^= 1; return b })
	}
	d := newTestDir(t, root, DirConfig{Keep: 5}, nil)
	wantLatest(t, d, "j", 4)
	save(t, d, "j", 5)
	wantLatest(t, d, "j", 5)

	newest := filepath.Join(root, "j", fileName(5))
	damage(t, newest, func(b []byte) []byte { return b[:len(b)-1] })
	_, err := newTestDir(t, root, DirConfig{}, nil).Latest(t.Context(), "j")
	wantUnreadable(t, err, "j", newest, 4, "truncated input")
}

// TestLeftoverTempFiles: a crash mid-Save leaves a temporary file; Latest and
// List ignore it, the next Save deletes it. Files that are not the store's
// are left alone.
func TestLeftoverTempFiles(t *testing.T) {
	root := t.TempDir()
	save(t, newTestDir(t, root, DirConfig{}, nil), "j", 1, 2)
	leftovers := map[string][]byte{
		".chk-00000000000000000003-123456.tmp": []byte("half a checkpoi"),
		".chk-00000000000000000009-7.tmp":      nil,
	}
	foreign := []string{"README", "chk-3.ckpt", "chk-00000000000000000003.ckpt.bak"}
	for name, b := range leftovers {
		if err := os.WriteFile(filepath.Join(root, "j", name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range foreign {
		if err := os.WriteFile(filepath.Join(root, "j", name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var logs logBuffer
	d := newTestDir(t, root, DirConfig{Logger: logs.logger()}, nil)
	wantLatest(t, d, "j", 2)
	if ids, _ := d.List("j"); !slices.Equal(ids, []uint64{1, 2}) {
		t.Fatalf("List = %v", ids)
	}
	if logs.String() != "" {
		t.Errorf("unexpected logs:\n%s", logs.String())
	}
	save(t, d, "j", 3)
	want := append(ckptNames(1, 2, 3), foreign...)
	slices.Sort(want)
	if got := dirNames(t, root, "j"); !slices.Equal(got, want) {
		t.Fatalf("files %v, want %v", got, want)
	}
}

// TestConcurrentUse: Saves of several jobs and Latest calls in parallel (run
// with -race).
func TestConcurrentUse(t *testing.T) {
	d := newTestDir(t, t.TempDir(), DirConfig{}, nil)
	jobs := []string{"a", "b", "c"}
	for _, job := range jobs {
		l := hold(t, d, job)
		t.Run(job, func(t *testing.T) {
			t.Parallel()
			for id := uint64(1); id <= 20; id++ {
				if err := d.Save(t.Context(), at(ckpt(job, id), l)); err != nil {
					t.Fatalf("Save(%d): %v", id, err)
				}
				cp, err := d.Latest(t.Context(), "a")
				if err != nil {
					t.Fatalf("Latest: %v", err)
				}
				if cp != nil && !bytes.Equal(cp.Sinks["parquet"], ckpt("a", cp.ID).Sinks["parquet"]) {
					t.Fatalf("Latest returned a mixed-up checkpoint %d", cp.ID)
				}
			}
		})
	}
}
