package checkpoint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardflow/shardflow/pipeline"
)

// logBuffer collects a Dir's log output.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// ckpt returns checkpoint id of job, with content that depends on id.
func ckpt(job string, id uint64) *pipeline.Checkpoint {
	return &pipeline.Checkpoint{
		ID:          id,
		Job:         job,
		Fingerprint: "fp-1",
		Created:     time.Date(2025, 6, 1, 12, 0, int(id), 0, time.UTC),
		Watermark:   int64(id) * 1000,
		Shards: map[string]pipeline.ShardState{
			"shardId-000000000000": {Position: pipeline.Position{Seq: fmt.Sprint(4959000 + id)}, MaxEventTime: int64(id) * 1000},
			"shardId-000000000001": {Position: pipeline.OffsetPosition(int64(id)), Finished: id > 2, Parents: []string{"shardId-000000000000"}},
		},
		Operators: map[string][]byte{"window": bytes.Repeat([]byte{byte(id)}, 100)},
		Sinks:     map[string][]byte{"parquet": []byte(fmt.Sprintf("staged-%d", id))},
	}
}

func newTestDir(t *testing.T, root string, cfg DirConfig, fsys fileSystem) *Dir {
	t.Helper()
	if fsys == nil {
		fsys = osFS{}
	}
	d, err := newDir(root, cfg, fsys)
	if err != nil {
		t.Fatalf("newDir: %v", err)
	}
	return d
}

// save saves checkpoints ids of job through d, under d's lock on the job if
// it holds one, else under a lock it acquires for them and releases after.
func save(t *testing.T, d *Dir, job string, ids ...uint64) {
	t.Helper()
	d.mu.Lock()
	l := d.locks[job]
	d.mu.Unlock()
	if l == nil {
		l = hold(t, d, job)
		defer func() {
			if err := l.Release(); err != nil {
				t.Errorf("Release: %v", err)
			}
		}()
	}
	for _, id := range ids {
		if err := d.Save(t.Context(), at(ckpt(job, id), l)); err != nil {
			t.Fatalf("Save(%d): %v", id, err)
		}
	}
}

// hold acquires d's lock on job until the test ends (or Release).
func hold(t *testing.T, d *Dir, job string) *dirLock {
	t.Helper()
	l, err := d.Acquire(t.Context(), job)
	if err != nil {
		t.Fatalf("Acquire(%q): %v", job, err)
	}
	t.Cleanup(func() { _ = l.Release() })
	return l.(*dirLock)
}

// at returns cp with the epoch of l.
func at(cp *pipeline.Checkpoint, l pipeline.StoreLock) *pipeline.Checkpoint {
	cp.Epoch = l.Epoch()
	return cp
}

// wantLatest asserts that Latest returns checkpoint id of job (0: none).
func wantLatest(t *testing.T, d *Dir, job string, id uint64) {
	t.Helper()
	got, err := d.Latest(t.Context(), job)
	if err != nil {
		t.Fatalf("Latest: %v", err)
	}
	if id == 0 {
		if got != nil {
			t.Fatalf("Latest = checkpoint %d, want none", got.ID)
		}
		return
	}
	if got == nil {
		t.Fatalf("Latest = none, want checkpoint %d", id)
	}
	if got.Epoch == 0 {
		t.Errorf("Latest = checkpoint %d with epoch 0", got.ID)
	}
	want := ckpt(job, id)
	want.Epoch = got.Epoch
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Latest:\n got %#v\nwant %#v", got, want)
	}
}

// dirNames returns the names in job's directory but LOCK and EPOCH, which
// every job directory has once a job was acquired (lock_test.go checks them).
func dirNames(t *testing.T, root, job string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(root, job))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.Name() != lockName && e.Name() != epochName {
			names = append(names, e.Name())
		}
	}
	return names
}

func ckptNames(ids ...uint64) []string {
	var names []string
	for _, id := range ids {
		names = append(names, fileName(id))
	}
	return names
}

func TestNewDir(t *testing.T) {
	root := t.TempDir()
	aFile := filepath.Join(root, "file")
	if err := os.WriteFile(aFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		root    string
		cfg     DirConfig
		wantErr string
	}{
		{"creates missing directories", filepath.Join(root, "a", "b"), DirConfig{}, ""},
		{"existing directory", root, DirConfig{Keep: 1}, ""},
		{"empty root", "", DirConfig{}, "checkpoint: empty root directory"},
		{"negative keep", root, DirConfig{Keep: -1}, "checkpoint: Keep is -1"},
		{"root is a file", aFile, DirConfig{}, "checkpoint: create root directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := NewDir(tc.root, tc.cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("NewDir error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewDir: %v", err)
			}
			if fi, err := os.Stat(tc.root); err != nil || !fi.IsDir() {
				t.Fatalf("root %s not a directory: %v", tc.root, err)
			}
			if d.Root() != tc.root {
				t.Errorf("Root() = %q", d.Root())
			}
		})
	}
}

func TestJobNames(t *testing.T) {
	tests := []struct {
		job string
		ok  bool
	}{
		{"clickstream", true},
		{"job-1.v2", true},
		{"...", true},
		{".hidden", true},
		{"", false},
		{".", false},
		{"..", false},
		{"a/b", false},
		{"../escape", false},
		{"/abs", false},
		{`a\b`, false},
		{"nul\x00", false},
		{strings.Repeat("j", 256), false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q", tc.job), func(t *testing.T) {
			parent := t.TempDir()
			root := filepath.Join(parent, "root")
			d := newTestDir(t, root, DirConfig{}, nil)
			ctx := t.Context()
			errs := map[string]error{}
			l, err := d.Acquire(ctx, tc.job)
			errs["Acquire"] = err
			cp := ckpt(tc.job, 1)
			if l != nil {
				defer l.Release()
				cp.Epoch = l.Epoch()
			}
			errs["Save"] = d.Save(ctx, cp)
			_, errs["Latest"] = d.Latest(ctx, tc.job)
			_, errs["List"] = d.List(tc.job)
			_, errs["Load"] = d.Load(ctx, tc.job, 1)
			for op, err := range errs {
				if tc.ok && err != nil {
					t.Errorf("%s: %v", op, err)
				}
				if !tc.ok && !errors.Is(err, ErrInvalidJob) {
					t.Errorf("%s error = %v, want ErrInvalidJob", op, err)
				}
			}
			if names, _ := os.ReadDir(parent); len(names) != 1 {
				t.Errorf("something was created beside the root: %v", names)
			}
		})
	}
}

func TestSaveLatestList(t *testing.T) {
	root := t.TempDir()
	d := newTestDir(t, root, DirConfig{}, nil)
	wantLatest(t, d, "clicks", 0)
	if ids, err := d.List("clicks"); err != nil || ids != nil {
		t.Fatalf("List of an unknown job = %v, %v", ids, err)
	}
	for id := uint64(1); id <= 5; id++ {
		save(t, d, "clicks", id)
		wantLatest(t, d, "clicks", id)
	}
	save(t, d, "other", 9)
	if ids, err := d.List("clicks"); err != nil || !slices.Equal(ids, []uint64{3, 4, 5}) {
		t.Fatalf("List = %v, %v; want [3 4 5]", ids, err)
	}
	if got := dirNames(t, root, "clicks"); !slices.Equal(got, ckptNames(3, 4, 5)) {
		t.Fatalf("files %v", got)
	}
	// A new Dir, as after a restart, sees the same.
	wantLatest(t, newTestDir(t, root, DirConfig{}, nil), "clicks", 5)
	wantLatest(t, d, "other", 9)
	cp, err := d.Load(t.Context(), "clicks", 4)
	if err != nil || !reflect.DeepEqual(cp, at(ckpt("clicks", 4), &dirLock{epoch: 4})) { // each save above acquired once
		t.Fatalf("Load(4) = %+v, %v", cp, err)
	}
	if _, err := d.Load(t.Context(), "clicks", 1); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load of a deleted checkpoint = %v, want fs.ErrNotExist", err)
	}
}

func TestSaveRefuses(t *testing.T) {
	root := t.TempDir()
	d := newTestDir(t, root, DirConfig{}, nil)
	save(t, d, "j", 1, 2, 5)
	restarted := newTestDir(t, root, DirConfig{}, nil)
	rl := hold(t, restarted, "j")
	if err := restarted.Save(t.Context(), at(ckpt("j", 4), rl)); !errors.Is(err, ErrNotNewer) || !strings.Contains(err.Error(), "the latest is 5") {
		t.Fatalf("Save of an older id after a restart = %v, want ErrNotNewer", err)
	}
	if err := rl.Release(); err != nil {
		t.Fatal(err)
	}
	l := hold(t, d, "j")
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	stale := ckpt("j", 6)
	stale.Epoch = l.Epoch() - 1
	tests := []struct {
		name string
		dir  *Dir
		ctx  context.Context
		cp   *pipeline.Checkpoint
		want string
		is   error
	}{
		{"same id", d, t.Context(), at(ckpt("j", 5), l), "checkpoint 5, the latest is 5", ErrNotNewer},
		{"older id", d, t.Context(), at(ckpt("j", 3), l), "checkpoint 3, the latest is 5", ErrNotNewer},
		{"id 0", d, t.Context(), at(ckpt("j", 0), l), "id 0 is reserved", nil},
		{"nil checkpoint", d, t.Context(), nil, "nil checkpoint", nil},
		{"canceled context", d, canceled, at(ckpt("j", 6), l), "save checkpoint 6", context.Canceled},
		{"stale epoch", d, t.Context(), stale, fmt.Sprintf("the checkpoint carries epoch %d, the store's is %d", l.Epoch()-1, l.Epoch()), pipeline.ErrFenced},
		{"newer epoch", d, t.Context(), at(ckpt("j", 6), &dirLock{epoch: l.Epoch() + 1}), "the checkpoint carries epoch", pipeline.ErrFenced},
		{"not acquired", restarted, t.Context(), at(ckpt("j", 6), l), `job "j": save checkpoint 6`, ErrNotAcquired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.dir.Save(tc.ctx, tc.cp)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Save error = %v, want %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("Save error %v is not %v", err, tc.is)
			}
			wantLatest(t, d, "j", 5)
		})
	}
	save(t, d, "j", 6)
	wantLatest(t, d, "j", 6)
	if got := wantEpoch(t, root, "j"); got != l.Epoch() {
		t.Errorf("EPOCH holds %d, want %d", got, l.Epoch())
	}
}

func TestKeep(t *testing.T) {
	tests := []struct {
		keep int
		want []uint64
	}{
		{0, []uint64{4, 5, 6}},
		{1, []uint64{6}},
		{2, []uint64{5, 6}},
		{10, []uint64{1, 2, 3, 4, 5, 6}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint("keep ", tc.keep), func(t *testing.T) {
			root := t.TempDir()
			d := newTestDir(t, root, DirConfig{Keep: tc.keep}, nil)
			save(t, d, "j", 1, 2, 3, 4, 5, 6)
			if got := dirNames(t, root, "j"); !slices.Equal(got, ckptNames(tc.want...)) {
				t.Fatalf("files %v, want %v", got, ckptNames(tc.want...))
			}
		})
	}
}

// TestSaveFaults: a failure at any step of Save is returned, leaves the
// previous checkpoint the latest (for this Dir and after a restart) and no
// temporary file behind, and a retry with the same id succeeds.
func TestSaveFaults(t *testing.T) {
	for _, step := range []string{"create", "write", "shortwrite", "sync", "close", "rename", "syncdir"} {
		t.Run(step, func(t *testing.T) {
			root := t.TempDir()
			fsys := newFaultFS()
			var logs logBuffer
			d := newTestDir(t, root, DirConfig{Logger: logs.logger()}, fsys)
			l := hold(t, d, "j")
			save(t, d, "j", 1, 2)

			fsys.set(step)
			err := d.Save(t.Context(), at(ckpt("j", 3), l))
			fsys.clear()
			if err == nil {
				t.Fatal("Save succeeded despite the fault")
			}
			if step == "shortwrite" {
				if !errors.Is(err, io.ErrShortWrite) {
					t.Fatalf("Save error %v is not io.ErrShortWrite", err)
				}
			} else if !errors.Is(err, errInjected) {
				t.Fatalf("Save error %v does not wrap the fault", err)
			}
			if !strings.Contains(err.Error(), `checkpoint: job "j": save checkpoint 3: `) {
				t.Errorf("error %q lacks context", err)
			}
			wantLatest(t, d, "j", 2)
			wantLatest(t, newTestDir(t, root, DirConfig{}, nil), "j", 2)
			if got := dirNames(t, root, "j"); !slices.Equal(got, ckptNames(1, 2)) {
				t.Fatalf("files after the failed save: %v", got)
			}
			if l := logs.String(); l != "" {
				t.Errorf("unexpected logs: %s", l)
			}

			save(t, d, "j", 3)
			wantLatest(t, d, "j", 3)
		})
	}
}

// TestSaveFaultsFence: when the store cannot tell whether this process still
// holds the job (the LOCK file or the EPOCH file cannot be read), Save fails
// with the fault, and succeeds once it can.
func TestSaveFaultsFence(t *testing.T) {
	for _, step := range []string{"stat", "readfile"} {
		t.Run(step, func(t *testing.T) {
			root := t.TempDir()
			fsys := newFaultFS()
			d := newTestDir(t, root, DirConfig{}, fsys)
			l := hold(t, d, "j")
			save(t, d, "j", 1)
			fsys.set(step)
			err := d.Save(t.Context(), at(ckpt("j", 2), l))
			fsys.clear()
			if !errors.Is(err, errInjected) || errors.Is(err, pipeline.ErrFenced) {
				t.Fatalf("Save error = %v, want the fault", err)
			}
			wantLatest(t, d, "j", 1)
			save(t, d, "j", 2)
			wantLatest(t, newTestDir(t, root, DirConfig{}, nil), "j", 2)
		})
	}
}

// TestCleanupFaults: when deleting old checkpoints fails, Save still succeeds
// (the new checkpoint is durable), logs the failure, and a later Save
// catches up.
func TestCleanupFaults(t *testing.T) {
	root := t.TempDir()
	fsys := newFaultFS()
	var logs logBuffer
	d := newTestDir(t, root, DirConfig{Keep: 2, Logger: logs.logger()}, fsys)
	save(t, d, "j", 1, 2)
	fsys.set("remove")
	save(t, d, "j", 3)
	fsys.clear()
	if !strings.Contains(logs.String(), "cannot remove old checkpoint") {
		t.Fatalf("logs lack the failed removal:\n%s", logs.String())
	}
	if got := dirNames(t, root, "j"); !slices.Equal(got, ckptNames(1, 2, 3)) {
		t.Fatalf("files %v", got)
	}
	save(t, d, "j", 4)
	if got := dirNames(t, root, "j"); !slices.Equal(got, ckptNames(3, 4)) {
		t.Fatalf("files %v", got)
	}
}
