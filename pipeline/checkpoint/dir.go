package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/shardflow/shardflow/internal/ckptfmt"
	"github.com/shardflow/shardflow/pipeline"
)

// DefaultKeep is how many checkpoints of a job a Dir keeps unless told.
const DefaultKeep = 3

var (
	// ErrNotNewer is returned by Save for a checkpoint id that is not greater
	// than the job's newest checkpoint.
	ErrNotNewer = errors.New("checkpoint: id is not newer than the latest checkpoint")
	// ErrUnreadableCheckpoint is wrapped by the error of Latest (and of Save
	// and Acquire, which read the newest checkpoint too) when the job's newest
	// checkpoint file cannot be read, decoded or does not hold what its name
	// says. The error is an *UnreadableError.
	ErrUnreadableCheckpoint = errors.New("checkpoint: the newest checkpoint cannot be read")
)

// UnreadableError reports a job's newest checkpoint that cannot be read. The
// store does not fall back to an older checkpoint: the unreadable one's
// output may already be committed, and resuming before it would commit that
// output a second time.
type UnreadableError struct {
	Job   string
	Path  string // the newest checkpoint's file
	Older uint64 // the id of the newest checkpoint before it, 0 for none
	Err   error  // why it cannot be read
}

func (e *UnreadableError) Error() string {
	instead := "start the job from scratch"
	if e.Older != 0 {
		instead = fmt.Sprintf("fall back to checkpoint %d", e.Older)
	}
	return fmt.Sprintf("checkpoint: job %q: the newest checkpoint %s cannot be read (%v); its output may be committed, "+
		"so shardflow will not %s: restore the file, or start over with a new checkpoint directory and --overwrite",
		e.Job, e.Path, e.Err, instead)
}

// Unwrap makes errors.Is hold for ErrUnreadableCheckpoint and for the cause
// (a ckptfmt sentinel, an fs error).
func (e *UnreadableError) Unwrap() []error { return []error{ErrUnreadableCheckpoint, e.Err} }

const (
	dirPerm = 0o750
)

// DirConfig configures a Dir.
type DirConfig struct {
	// Keep is how many of a job's newest checkpoints survive a successful
	// Save; 0 means DefaultKeep. Only the newest is ever restored; the older
	// ones are kept for inspection (a store never falls back to them).
	Keep int
	// Logger receives failed cleanups; nil discards them.
	Logger *slog.Logger
}

// Validate reports whether c is usable.
func (c DirConfig) Validate() error {
	if c.Keep < 0 {
		return fmt.Errorf("checkpoint: Keep is %d, want 0 (default %d) or more", c.Keep, DefaultKeep)
	}
	return nil
}

// Dir is a pipeline.CheckpointStore that keeps each job's checkpoints as
// files in a directory of its own under a root directory.
type Dir struct {
	root string
	keep int
	log  *slog.Logger
	fs   fileSystem

	mu sync.Mutex // serialises Save and Latest; guards the maps
	// newest[job] is the id of the job's newest checkpoint (0 for none), as
	// Latest or Save last established it.
	newest map[string]uint64
	// made[job] records that the job's directory exists and is durable.
	made map[string]bool
	// locks[job] is this Dir's hold on job, from Acquire to Release.
	locks map[string]*dirLock
	now   func() time.Time // for the LOCK file's "since"
}

var _ pipeline.CheckpointStore = (*Dir)(nil)

// NewDir returns a store under root, creating the directory if needed.
func NewDir(root string, cfg DirConfig) (*Dir, error) {
	return newDir(root, cfg, osFS{})
}

func newDir(root string, cfg DirConfig, fsys fileSystem) (*Dir, error) {
	if root == "" {
		return nil, errors.New("checkpoint: empty root directory")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := fsys.MkdirAll(root, dirPerm); err != nil {
		return nil, fmt.Errorf("checkpoint: create root directory: %w", err)
	}
	// Make the root's own entry durable, in case MkdirAll just created it.
	if err := fsys.SyncDir(filepath.Dir(root)); err != nil {
		return nil, fmt.Errorf("checkpoint: fsync the root's parent directory: %w", err)
	}
	d := &Dir{
		root:   root,
		keep:   cfg.Keep,
		log:    cfg.Logger,
		fs:     fsys,
		newest: map[string]uint64{},
		made:   map[string]bool{},
		locks:  map[string]*dirLock{},
		now:    time.Now,
	}
	if d.keep == 0 {
		d.keep = DefaultKeep
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	return d, nil
}

// Root returns the store's root directory.
func (d *Dir) Root() string { return d.root }

func (d *Dir) jobDir(job string) string { return filepath.Join(d.root, job) }

// Save persists cp atomically and durably as the newest checkpoint of cp.Job.
// It refuses, with ErrNotAcquired, a job whose lock this Dir does not hold
// (Acquire); with an error wrapping pipeline.ErrFenced, a checkpoint whose
// Epoch is not the store's current epoch, or any checkpoint once the job's
// LOCK file is no longer the file this Dir locked (the directory was removed
// or replaced, and another process may hold the new one); id 0 (recovery's
// "no checkpoint"); with ErrNotNewer, an id that is not greater than the
// newest checkpoint's; and with an *UnreadableError any checkpoint while the
// newest one cannot be read. It re-reads the EPOCH file every time, and
// after writing checks the fence again: a Save that cannot tell whether the
// store was taken over meanwhile fails too (the checkpoint stays written).
func (d *Dir) Save(ctx context.Context, cp *pipeline.Checkpoint) error {
	if cp == nil {
		return errors.New("checkpoint: save: nil checkpoint")
	}
	if err := validateJob(cp.Job); err != nil {
		return err
	}
	if cp.ID == 0 {
		return fmt.Errorf("checkpoint: job %q: id 0 is reserved for \"no checkpoint\"; ids start at 1", cp.Job)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("checkpoint: job %q: save checkpoint %d: %w", cp.Job, cp.ID, err)
	}
	data, err := ckptfmt.Encode(cp)
	if err != nil {
		return fmt.Errorf("checkpoint: job %q: %w", cp.Job, err)
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	l := d.locks[cp.Job]
	if l == nil {
		return fmt.Errorf("%w: job %q: save checkpoint %d", ErrNotAcquired, cp.Job, cp.ID)
	}
	if err := d.fence(l, cp); err != nil {
		return fmt.Errorf("checkpoint: job %q: save checkpoint %d: %w", cp.Job, cp.ID, err)
	}
	newest, known := d.newest[cp.Job]
	if !known {
		latest, err := d.latest(ctx, cp.Job)
		if err != nil {
			return fmt.Errorf("checkpoint: job %q: save checkpoint %d: %w", cp.Job, cp.ID, err)
		}
		if latest != nil {
			newest = latest.ID
		}
		d.newest[cp.Job] = newest
	}
	if cp.ID <= newest {
		return fmt.Errorf("%w: job %q: checkpoint %d, the latest is %d", ErrNotNewer, cp.Job, cp.ID, newest)
	}
	dir := d.jobDir(cp.Job)
	if err := d.makeJobDir(cp.Job, dir); err != nil {
		return fmt.Errorf("checkpoint: job %q: save checkpoint %d: %w", cp.Job, cp.ID, err)
	}
	if err := d.writeAtomic(dir, tempPattern(cp.ID), fileName(cp.ID), data, true); err != nil {
		return fmt.Errorf("checkpoint: job %q: save checkpoint %d: %w", cp.Job, cp.ID, err)
	}
	// The directory may have been replaced while we wrote (the paths then
	// led into the new one). The checkpoint cannot be taken back safely, but
	// the caller must not commit it.
	if err := d.fence(l, cp); errors.Is(err, pipeline.ErrFenced) {
		return fmt.Errorf("checkpoint: job %q: checkpoint %d was written, but the store was taken over during the save: %w", cp.Job, cp.ID, err)
	} else if err != nil {
		// Not knowing is not committing: the checkpoint stays, and a
		// restart that holds the store commits it.
		d.newest[cp.Job] = cp.ID
		return fmt.Errorf("checkpoint: job %q: checkpoint %d was written, but whether the store was taken over during the save cannot be told: %w", cp.Job, cp.ID, err)
	}
	d.newest[cp.Job] = cp.ID
	d.cleanup(cp.Job, dir, cp.ID)
	return nil
}

// makeJobDir creates the job's directory and makes its entry in the root
// durable, once per job and Dir.
func (d *Dir) makeJobDir(job, dir string) error {
	if d.made[job] {
		return nil
	}
	if err := d.fs.MkdirAll(dir, dirPerm); err != nil {
		return fmt.Errorf("create job directory: %w", err)
	}
	if err := d.fs.SyncDir(d.root); err != nil {
		return fmt.Errorf("fsync %s: %w", d.root, err)
	}
	d.made[job] = true
	return nil
}

// writeAtomic makes data the file name in dir: a temporary file (pattern),
// fsync, rename, fsync the directory. On error no temporary file is left
// behind, as far as the file system lets us remove it; if only the directory
// fsync failed and takeBack is set, the renamed file is removed too.
func (d *Dir) writeAtomic(dir, pattern, name string, data []byte, takeBack bool) (err error) {
	f, err := d.fs.CreateTemp(dir, pattern)
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	tmp, final := f.Name(), filepath.Join(dir, name)
	open, renamed := true, false
	defer func() {
		if err == nil {
			return
		}
		if open {
			_ = f.Close() // the write already failed
		}
		if !renamed {
			d.remove(tmp, "temporary file of a failed save")
		}
	}()

	n, err := f.Write(data)
	if err == nil && n != len(data) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	// Never retry a failed fsync: the kernel may have dropped the dirty pages
	// and a second fsync would report success for data that is gone.
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", tmp, err)
	}
	open = false
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := d.fs.Rename(tmp, final); err != nil {
		return fmt.Errorf("rename %s to %s: %w", tmp, final, err)
	}
	renamed = true
	if err := d.fs.SyncDir(dir); err != nil {
		// Whether the rename survives a crash is unknown; take a checkpoint
		// back so that the error means "not saved" now and after a restart.
		// (An EPOCH file stays: an epoch that was never used may be skipped.)
		if takeBack {
			d.remove(final, "checkpoint whose directory fsync failed")
		}
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

func (d *Dir) remove(path, what string) {
	if err := d.fs.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		d.log.Warn("checkpoint: cannot remove "+what, "path", path, "err", err)
	}
}

// cleanup runs after checkpoint saved of job was written: it deletes
// leftover temporary files and checkpoints beyond Keep. Failures are logged.
func (d *Dir) cleanup(job, dir string, saved uint64) {
	entries, err := d.fs.ReadDir(dir)
	if err != nil {
		d.log.Warn("checkpoint: cannot list job directory for cleanup", "job", job, "dir", dir, "err", err)
		return
	}
	var older []uint64
	changed := false
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(dir, name)
		id, ok := parseFileName(name)
		switch {
		case ok && id < saved:
			older = append(older, id)
		case !ok && isTempName(name):
			d.remove(path, "leftover temporary file")
			changed = true
		}
	}
	slices.Sort(older)
	if excess := len(older) - (d.keep - 1); excess > 0 {
		for _, id := range older[:excess] {
			d.remove(filepath.Join(dir, fileName(id)), "old checkpoint")
		}
		changed = true
	}
	if changed {
		if err := d.fs.SyncDir(dir); err != nil {
			d.log.Warn("checkpoint: cannot fsync job directory after cleanup", "dir", dir, "err", err)
		}
	}
}

// Latest returns the newest checkpoint of job, or nil and no error when the
// job has none. It never falls back to an older checkpoint: when the newest
// file cannot be read, decoded, or does not hold the job and id its name
// says, the error is an *UnreadableError (wrapping ErrUnreadableCheckpoint).
// The next Save of the job must have a greater id than the checkpoint Latest
// returned.
func (d *Dir) Latest(ctx context.Context, job string) (*pipeline.Checkpoint, error) {
	if err := validateJob(job); err != nil {
		return nil, err
	}
	// Hold the lock so that no Save runs while we read: what Latest returns
	// is then also what the next Save must exceed.
	d.mu.Lock()
	defer d.mu.Unlock()
	cp, err := d.latest(ctx, job)
	if err != nil {
		return nil, err
	}
	var id uint64
	if cp != nil {
		id = cp.ID
	}
	d.newest[job] = id
	return cp, nil
}

// vanishAttempts is how often latest lists the job's directory again when its
// newest file disappears between listing and reading.
const vanishAttempts = 3

func (d *Dir) latest(ctx context.Context, job string) (*pipeline.Checkpoint, error) {
	// The newest file can vanish between listing and reading it when another
	// process (one that took the job over, or a reader's race with the
	// holder's cleanup) saves a newer checkpoint and deletes old ones; list
	// again then, rather than report "no checkpoint" or fall back.
	for range vanishAttempts {
		ids, err := d.List(job)
		if err != nil {
			return nil, err
		}
		if len(ids) == 0 {
			return nil, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("checkpoint: job %q: %w", job, err)
		}
		newest := ids[len(ids)-1]
		cp, err := d.read(job, newest)
		if err == nil {
			return cp, nil
		}
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		ue := &UnreadableError{Job: job, Path: d.ckptPath(job, newest), Err: err}
		if len(ids) > 1 {
			ue.Older = ids[len(ids)-2]
		}
		return nil, ue
	}
	return nil, fmt.Errorf("checkpoint: job %q: its newest checkpoint file in %s vanished %d times while being read; is another process writing it?",
		job, d.jobDir(job), vanishAttempts)
}

// List returns the ids of job's checkpoint files in increasing order, without
// reading them; nil when the job has none.
func (d *Dir) List(job string) ([]uint64, error) {
	if err := validateJob(job); err != nil {
		return nil, err
	}
	entries, err := d.fs.ReadDir(d.jobDir(job))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint: job %q: list: %w", job, err)
	}
	var ids []uint64
	for _, e := range entries {
		if id, ok := parseFileName(e.Name()); ok && e.Type().IsRegular() {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// Load reads checkpoint id of job, which need not be the newest (for
// inspection). A missing checkpoint's error wraps fs.ErrNotExist; a damaged
// one's wraps a ckptfmt error. Both name the file.
func (d *Dir) Load(ctx context.Context, job string, id uint64) (*pipeline.Checkpoint, error) {
	if err := validateJob(job); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("checkpoint: job %q: %w", job, err)
	}
	cp, err := d.read(job, id)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %s: %w", d.ckptPath(job, id), err)
	}
	return cp, nil
}

func (d *Dir) ckptPath(job string, id uint64) string {
	return filepath.Join(d.jobDir(job), fileName(id))
}

// read reads checkpoint id of job; its errors do not name the file, so that
// the callers name it once.
func (d *Dir) read(job string, id uint64) (*pipeline.Checkpoint, error) {
	data, err := d.fs.ReadFile(d.ckptPath(job, id))
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s: %w", pe.Op, pe.Err)
		}
		return nil, err
	}
	cp, err := ckptfmt.Decode(data)
	if err != nil {
		return nil, err
	}
	if cp.Job != job || cp.ID != id {
		return nil, fmt.Errorf("it holds checkpoint %d of job %q", cp.ID, cp.Job)
	}
	return cp, nil
}
