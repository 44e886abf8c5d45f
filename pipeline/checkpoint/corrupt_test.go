package checkpoint

import (
	"bytes"
	"errors"
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
	want   error // what Latest logs, nil when it is not a ckptfmt error
}{
	{"empty", func(b []byte) []byte { return nil }, ckptfmt.ErrTruncated},
	{"header only", func(b []byte) []byte { return b[:ckptfmt.Overhead-4] }, ckptfmt.ErrTruncated},
	{"half", func(b []byte) []byte { return b[:len(b)/2] }, ckptfmt.ErrTruncated},
	{"last byte lost", func(b []byte) []byte { return b[:len(b)-1] }, ckptfmt.ErrTruncated},
	{"bit flip", func(b []byte) []byte { b[len(b)/2] ^= 0x04; return b }, ckptfmt.ErrChecksum},
	{"zeroed block", func(b []byte) []byte { clear(b[20:60]); return b }, ckptfmt.ErrChecksum},
	{"not a checkpoint", func(b []byte) []byte { return []byte("hello") }, ckptfmt.ErrBadMagic},
	{"copy of another checkpoint", nil, nil}, // filled in by the test: chk-2's bytes under chk-3's name
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

// TestLatestSkipsDamagedNewest is the crash-consistency test: whatever
// happened to the newest file, Latest reports it and returns the one before,
// and the job's next Save (reusing the id) replaces the damaged file.
func TestLatestSkipsDamagedNewest(t *testing.T) {
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
			wantLatest(t, d, "j", 2)
			l := logs.String()
			for _, want := range []string{"level=ERROR", "skipping a checkpoint that does not load", "id=3", fileName(3)} {
				if !strings.Contains(l, want) {
					t.Errorf("log lacks %q:\n%s", want, l)
				}
			}
			if _, err := d.Load(t.Context(), "j", 3); tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Load(3) = %v, want %v", err, tc.want)
			}

			save(t, d, "j", 3)
			wantLatest(t, d, "j", 3)
			if got := dirNames(t, root, "j"); !slices.Equal(got, ckptNames(1, 2, 3)) {
				t.Fatalf("files %v", got)
			}
		})
	}
}

func TestLatestReadError(t *testing.T) {
	root := t.TempDir()
	save(t, newTestDir(t, root, DirConfig{}, nil), "j", 1, 2)
	fsys := newFaultFS()
	fsys.set("readfile")
	var logs logBuffer
	d := newTestDir(t, root, DirConfig{Logger: logs.logger()}, fsys)
	_, err := d.Latest(t.Context(), "j")
	if !errors.Is(err, ErrNoValidCheckpoint) || !errors.Is(err, errInjected) {
		t.Fatalf("Latest = %v, want ErrNoValidCheckpoint wrapping the read errors", err)
	}
}

// TestVanishingFiles: a checkpoint deleted between listing and reading (by a
// writer in another process) makes Latest list again, never report "none".
func TestVanishingFiles(t *testing.T) {
	root := t.TempDir()
	save(t, newTestDir(t, root, DirConfig{}, nil), "j", 1, 2)
	tests := []struct {
		name    string
		n       int
		want    uint64
		wantErr bool
	}{
		{"newest gone", 1, 1, false},
		{"all gone once", 2, 2, false},
		{"always gone", -1, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fsys := newFaultFS()
			fsys.setN("readfile", fs.ErrNotExist, tc.n)
			cp, err := newTestDir(t, root, DirConfig{}, fsys).Latest(t.Context(), "j")
			if tc.wantErr {
				if !errors.Is(err, ErrNoValidCheckpoint) || !strings.Contains(err.Error(), "keep vanishing") {
					t.Fatalf("Latest = %v, %v; want an error", cp, err)
				}
				return
			}
			if err != nil || cp == nil || cp.ID != tc.want {
				t.Fatalf("Latest = %v, %v; want checkpoint %d", cp, err, tc.want)
			}
		})
	}
}

// TestAllDamaged: when every checkpoint is damaged, Latest and Save refuse to
// go on as if the job were new.
func TestAllDamaged(t *testing.T) {
	root := t.TempDir()
	save(t, newTestDir(t, root, DirConfig{}, nil), "j", 1, 2, 3)
	for _, id := range []uint64{1, 2, 3} {
		damage(t, filepath.Join(root, "j", fileName(id)), func(b []byte) []byte { return b[:len(b)-1] })
	}
	var logs logBuffer
	d := newTestDir(t, root, DirConfig{Logger: logs.logger()}, nil)
	cp, err := d.Latest(t.Context(), "j")
	if cp != nil || !errors.Is(err, ErrNoValidCheckpoint) {
		t.Fatalf("Latest = %v, %v; want ErrNoValidCheckpoint", cp, err)
	}
	for _, want := range []string{"none of its 3 checkpoint files", "move the directory aside", fileName(1), "truncated input"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n != 3 {
		t.Errorf("%d errors logged, want 3:\n%s", n, logs.String())
	}
	if err := d.Save(t.Context(), ckpt("j", 1)); !errors.Is(err, ErrNoValidCheckpoint) {
		t.Fatalf("Save over damaged checkpoints = %v, want ErrNoValidCheckpoint", err)
	}
}

// TestSetAsideNewerDamaged: after falling back past two damaged checkpoints,
// the next Save sets aside the newer damaged file it does not overwrite.
func TestSetAsideNewerDamaged(t *testing.T) {
	root := t.TempDir()
	save(t, newTestDir(t, root, DirConfig{Keep: 5}, nil), "j", 1, 2, 3, 4)
	for _, id := range []uint64{3, 4} {
		damage(t, filepath.Join(root, "j", fileName(id)), func(b []byte) []byte { b[30] ^= 1; return b })
	}
	var logs logBuffer
	d := newTestDir(t, root, DirConfig{Keep: 5, Logger: logs.logger()}, nil)
	wantLatest(t, d, "j", 2)
	save(t, d, "j", 3)
	if !strings.Contains(logs.String(), "setting aside") {
		t.Errorf("log lacks the set-aside file:\n%s", logs.String())
	}
	want := append(ckptNames(1, 2, 3), fileName(4)+corruptSuffix)
	if got := dirNames(t, root, "j"); !slices.Equal(got, want) {
		t.Fatalf("files %v, want %v", got, want)
	}
	before := logs.String()
	wantLatest(t, d, "j", 3)
	if ids, _ := d.List("j"); !slices.Equal(ids, []uint64{1, 2, 3}) {
		t.Fatalf("List = %v", ids)
	}
	if logs.String() != before {
		t.Errorf("Latest logged after the damaged file was set aside:\n%s", logs.String())
	}
	save(t, d, "j", 4)
	wantLatest(t, d, "j", 4)
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
		t.Run(job, func(t *testing.T) {
			t.Parallel()
			for id := uint64(1); id <= 20; id++ {
				if err := d.Save(t.Context(), ckpt(job, id)); err != nil {
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
