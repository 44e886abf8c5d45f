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

	"github.com/shardflow/shardflow/internal/ckptfmt"
	"github.com/shardflow/shardflow/pipeline"
)

// DefaultKeep is how many checkpoints of a job a Dir keeps unless told.
const DefaultKeep = 3

var (
	// ErrNotNewer is returned by Save for a checkpoint id that is not greater
	// than the job's newest checkpoint.
	ErrNotNewer = errors.New("checkpoint: id is not newer than the latest checkpoint")
	// ErrNoValidCheckpoint is returned when a job has checkpoint files and none
	// of them loads.
	ErrNoValidCheckpoint = errors.New("checkpoint: no checkpoint of the job loads")
)

const (
	dirPerm = 0o750
)

// DirConfig configures a Dir.
type DirConfig struct {
	// Keep is how many of a job's newest checkpoints survive a successful
	// Save; 0 means DefaultKeep. With 1, a damaged newest checkpoint leaves
	// nothing to fall back to.
	Keep int
	// Logger receives checkpoints that fail to load and failed cleanups; nil
	// discards them.
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
	// newest[job] is the id of the job's newest checkpoint known to load (0
	// for none), as Latest or Save last established it.
	newest map[string]uint64
	// made[job] records that the job's directory exists and is durable.
	made map[string]bool
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
// It refuses id 0 (recovery's "no checkpoint") and, with ErrNotNewer, an id
// that is not greater than the newest checkpoint that loads.
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
	if err := d.write(dir, cp.ID, data); err != nil {
		return fmt.Errorf("checkpoint: job %q: save checkpoint %d: %w", cp.Job, cp.ID, err)
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

// write makes data the checkpoint file of id in dir: temp file, fsync,
// rename, fsync the directory. On error nothing new is left behind, as far as
// the file system lets us remove it.
func (d *Dir) write(dir string, id uint64, data []byte) (err error) {
	f, err := d.fs.CreateTemp(dir, tempPattern(id))
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	tmp, final := f.Name(), filepath.Join(dir, fileName(id))
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
		// Whether the rename survives a crash is unknown; take it back so that
		// the error means "not saved" now and after a restart.
		d.remove(final, "checkpoint whose directory fsync failed")
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
// leftover temporary files and checkpoints beyond Keep, and sets aside the
// files of checkpoints newer than saved, which did not load when Save checked
// (see the package documentation). Failures are logged.
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
		case ok && id > saved:
			d.log.Warn("checkpoint: setting aside a checkpoint newer than the one saved, which did not load",
				"job", job, "id", id, "saved", saved, "path", path+corruptSuffix)
			if err := d.fs.Rename(path, path+corruptSuffix); err != nil {
				d.log.Warn("checkpoint: cannot set aside checkpoint", "path", path, "err", err)
			}
			changed = true
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

// Latest returns the newest checkpoint of job that loads, or nil and no error
// when the job has none. Checkpoints that do not load are logged and skipped;
// if all of them fail, the error wraps ErrNoValidCheckpoint. The next Save of
// the job must have a greater id than the checkpoint Latest returned.
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

func (d *Dir) latest(ctx context.Context, job string) (*pipeline.Checkpoint, error) {
	// Files can vanish between listing and reading them when another process
	// saves a newer checkpoint and deletes old ones; list again then, rather
	// than report "no checkpoint".
	for attempt := 0; ; attempt++ {
		cp, errs, vanished, err := d.tryLatest(ctx, job)
		switch {
		case err != nil:
			return nil, err
		case cp != nil:
			return cp, nil
		case len(errs) > 0:
			return nil, fmt.Errorf("%w: job %q: none of its %d checkpoint files in %s loads (move the directory aside to start from scratch): %w",
				ErrNoValidCheckpoint, job, len(errs), d.jobDir(job), errors.Join(errs...))
		case vanished == 0:
			return nil, nil
		case attempt == 2:
			return nil, fmt.Errorf("%w: job %q: its checkpoint files in %s keep vanishing while being read",
				ErrNoValidCheckpoint, job, d.jobDir(job))
		}
	}
}

// tryLatest loads job's checkpoints newest first until one loads; it returns
// the errors of those that did not and the number that were gone.
func (d *Dir) tryLatest(ctx context.Context, job string) (_ *pipeline.Checkpoint, errs []error, vanished int, _ error) {
	ids, err := d.List(job)
	if err != nil {
		return nil, nil, 0, err
	}
	for i := len(ids) - 1; i >= 0; i-- {
		if err := ctx.Err(); err != nil {
			return nil, nil, 0, fmt.Errorf("checkpoint: job %q: %w", job, err)
		}
		cp, err := d.load(job, ids[i])
		if err == nil {
			if len(errs) > 0 {
				d.log.Warn("checkpoint: falling back to an older checkpoint", "job", job, "id", cp.ID, "skipped", len(errs))
			}
			return cp, errs, vanished, nil
		}
		if errors.Is(err, fs.ErrNotExist) {
			vanished++
			continue
		}
		d.log.Error("checkpoint: skipping a checkpoint that does not load", "job", job, "id", ids[i], "err", err)
		errs = append(errs, err)
	}
	return nil, errs, vanished, nil
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

// Load reads checkpoint id of job. A missing checkpoint's error wraps
// fs.ErrNotExist; a damaged one's wraps a ckptfmt error.
func (d *Dir) Load(ctx context.Context, job string, id uint64) (*pipeline.Checkpoint, error) {
	if err := validateJob(job); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("checkpoint: job %q: %w", job, err)
	}
	return d.load(job, id)
}

func (d *Dir) load(job string, id uint64) (*pipeline.Checkpoint, error) {
	path := filepath.Join(d.jobDir(job), fileName(id))
	data, err := d.fs.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err) // *fs.PathError names the file
	}
	cp, err := ckptfmt.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %s: %w", path, err)
	}
	if cp.Job != job || cp.ID != id {
		return nil, fmt.Errorf("checkpoint: %s: holds checkpoint %d of job %q", path, cp.ID, cp.Job)
	}
	return cp, nil
}

// Acquire implements pipeline.CheckpointStore. TODO(lock): an OS file lock
// and a durable epoch.
func (d *Dir) Acquire(ctx context.Context, job string) (pipeline.StoreLock, error) {
	if err := validateJob(job); err != nil {
		return nil, err
	}
	return dirLock{epoch: 1}, nil
}

type dirLock struct{ epoch uint64 }

func (l dirLock) Epoch() uint64 { return l.epoch }
func (dirLock) Release() error  { return nil }
