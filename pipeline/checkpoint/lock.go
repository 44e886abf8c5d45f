package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shardflow/shardflow/pipeline"
)

// ErrNotAcquired is returned by Save for a job whose lock this Dir does not
// hold: nothing saves a checkpoint without the lock.
var ErrNotAcquired = errors.New("checkpoint: the job's lock is not held by this store (call Acquire first)")

const (
	lockName = "LOCK"
	filePerm = 0o640
	// lockAttempts bounds how often Acquire locks again when the LOCK file it
	// locked was replaced before the lock was taken.
	lockAttempts = 5
)

// dirLock is a Dir's hold on one job: the open LOCK file with its flock.
type dirLock struct {
	d     *Dir
	job   string
	path  string
	epoch uint64
	f     *os.File // nil once released; guarded by d.mu
}

var _ pipeline.StoreLock = (*dirLock)(nil)

func (l *dirLock) Epoch() uint64 { return l.epoch }

// Release closes the LOCK file, which ends the flock. It leaves the file in
// place: removing it would let a process that opened it lock a file that is
// no longer at the path. Releasing twice does nothing.
func (l *dirLock) Release() error {
	l.d.mu.Lock()
	defer l.d.mu.Unlock()
	if l.f == nil {
		return nil
	}
	if l.d.locks[l.job] == l {
		delete(l.d.locks, l.job)
	}
	err := l.f.Close()
	l.f = nil
	if err != nil {
		return fmt.Errorf("checkpoint: job %q: release %s: %w", l.job, l.path, err)
	}
	return nil
}

// Acquire implements pipeline.CheckpointStore. It takes an exclusive flock on
// <root>/<job>/LOCK, held by an open file until Release or the end of the
// process, and writes this process's pid and the time into the file for the
// error another process then gets (which wraps pipeline.ErrStoreLocked). Then
// it makes the next fencing epoch durable in <root>/<job>/EPOCH: one more
// than the file's and than the newest checkpoint's, so that it grows even if
// the file was lost. A damaged EPOCH file or an unreadable newest checkpoint
// (an *UnreadableError) fail Acquire. When Acquire fails it holds nothing.
func (d *Dir) Acquire(ctx context.Context, job string) (_ pipeline.StoreLock, err error) {
	if err := validateJob(job); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("checkpoint: job %q: acquire: %w", job, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if l := d.locks[job]; l != nil {
		return nil, fmt.Errorf("checkpoint: job %q: %w: this store already holds it (epoch %d)", job, pipeline.ErrStoreLocked, l.epoch)
	}
	dir := d.jobDir(job)
	d.made[job] = false // the directory may have been removed since
	if err := d.makeJobDir(job, dir); err != nil {
		return nil, fmt.Errorf("checkpoint: job %q: acquire: %w", job, err)
	}
	l, err := d.lockFile(job)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = l.f.Close() // ends the flock; the error is the one to report
		}
	}()
	if err := writeHolder(l.f, d.now()); err != nil {
		return nil, fmt.Errorf("checkpoint: job %q: acquire: write %s: %w", job, l.path, err)
	}

	stored, err := d.readEpoch(job)
	if err != nil && !isNotExist(err) {
		return nil, fmt.Errorf("checkpoint: job %q: acquire: %w", job, err)
	}
	latest, err := d.latest(ctx, job)
	if err != nil {
		return nil, err // an *UnreadableError says it all
	}
	newest := uint64(0)
	if latest != nil {
		newest = latest.ID
		stored = max(stored, latest.Epoch)
	}
	if stored == math.MaxUint64 {
		return nil, fmt.Errorf("checkpoint: job %q: acquire: the epoch is at its maximum", job)
	}
	l.epoch = stored + 1
	if err := d.writeEpoch(job, l.epoch); err != nil {
		return nil, fmt.Errorf("checkpoint: job %q: acquire: write epoch %d: %w", job, l.epoch, err)
	}
	d.newest[job] = newest
	d.locks[job] = l
	return l, nil
}

// lockFile opens and flocks job's LOCK file, and checks that the file it
// locked is still the one at the path (another process may have removed or
// replaced the directory in between).
func (d *Dir) lockFile(job string) (*dirLock, error) {
	path := filepath.Join(d.jobDir(job), lockName)
	for range lockAttempts {
		f, err := d.fs.OpenFile(path, os.O_RDWR|os.O_CREATE, filePerm)
		if err != nil {
			return nil, fmt.Errorf("checkpoint: job %q: acquire: open %s: %w", job, path, err)
		}
		if err := tryLock(f); err != nil {
			holder := readHolder(f)
			_ = f.Close()
			if errors.Is(err, errWouldBlock) {
				return nil, d.lockedError(job, holder)
			}
			return nil, fmt.Errorf("checkpoint: job %q: acquire: lock %s: %w", job, path, err)
		}
		if same, err := d.samePath(f, path); err != nil || !same {
			_ = f.Close()
			if err != nil {
				return nil, fmt.Errorf("checkpoint: job %q: acquire: %w", job, err)
			}
			continue // replaced while we locked it: lock the new one
		}
		return &dirLock{d: d, job: job, path: path, f: f}, nil
	}
	return nil, fmt.Errorf("checkpoint: job %q: acquire: %s was replaced %d times while being locked; is something removing the directory?",
		job, path, lockAttempts)
}

// samePath reports whether the open file f is still the file at path.
func (d *Dir) samePath(f *os.File, path string) (bool, error) {
	held, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("stat the open %s: %w", path, err)
	}
	now, err := d.fs.Stat(path)
	if isNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stat %s: %w", path, err)
	}
	return os.SameFile(held, now), nil
}

// holder is what a LOCK file says about the process holding it.
type holder struct {
	pid   int
	since time.Time
}

func writeHolder(f *os.File, now time.Time) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt(fmt.Appendf(nil, "pid %d\nsince %s\n", os.Getpid(), now.Format(time.RFC3339)), 0)
	return err
}

// readHolder reads what it can of a LOCK file; the zero holder if nothing
// (the holder may not have written it yet).
func readHolder(f *os.File) holder {
	var h holder
	b := make([]byte, 256)
	n, _ := f.ReadAt(b, 0)
	for line := range strings.Lines(string(b[:n])) {
		key, value, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch key {
		case "pid":
			h.pid, _ = strconv.Atoi(value)
		case "since":
			h.since, _ = time.Parse(time.RFC3339, value)
		}
	}
	return h
}

func (d *Dir) lockedError(job string, h holder) error {
	who := "another shardflow"
	if h.pid == os.Getpid() {
		who = "another store of this process"
	}
	var about []string
	if h.pid > 0 {
		about = append(about, fmt.Sprintf("pid %d", h.pid))
	}
	if !h.since.IsZero() {
		since, now := h.since.In(time.Local), d.now().In(time.Local)
		layout := time.TimeOnly
		if y, m, day := since.Date(); y != now.Year() || m != now.Month() || day != now.Day() {
			layout = time.DateTime
		}
		about = append(about, "since "+since.Format(layout))
	}
	if len(about) > 0 {
		who += " (" + strings.Join(about, ", ") + ")"
	}
	return &lockedError{msg: fmt.Sprintf("checkpoint: %s runs job %q on %s; stop it first, or use another --checkpoints directory",
		who, job, d.root)}
}

// lockedError is Acquire's error for a job another process holds.
type lockedError struct{ msg string }

func (e *lockedError) Error() string { return e.msg }
func (e *lockedError) Unwrap() error { return pipeline.ErrStoreLocked }

// fence returns nil if cp may be saved under l: l is still the flock on the
// file at <job>/LOCK, the EPOCH file holds l's epoch, and cp carries it.
// Otherwise the error wraps pipeline.ErrFenced, or describes why the store
// cannot tell. d.mu is held.
func (d *Dir) fence(l *dirLock, cp *pipeline.Checkpoint) error {
	same, err := d.samePath(l.f, l.path)
	if err != nil {
		return err
	}
	if !same {
		return fmt.Errorf("%w: %s is no longer the file this process locked (the checkpoint directory was removed or replaced while the job ran)",
			pipeline.ErrFenced, l.path)
	}
	stored, err := d.readEpoch(cp.Job)
	if isNotExist(err) {
		return fmt.Errorf("%w: the epoch file is gone (%v)", pipeline.ErrFenced, err)
	}
	if err != nil {
		return err
	}
	if stored != l.epoch {
		return fmt.Errorf("%w: the store's epoch is %d, this process holds %d", pipeline.ErrFenced, stored, l.epoch)
	}
	if cp.Epoch != l.epoch {
		return fmt.Errorf("%w: the checkpoint carries epoch %d, the store's is %d", pipeline.ErrFenced, cp.Epoch, l.epoch)
	}
	return nil
}
