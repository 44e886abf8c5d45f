package staging

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Area is the staging area of one sink: a root directory under which it
// stages files with one extension. An Area is used by one goroutine.
type Area struct {
	root string
	ext  string
	fs   FS
	next uint64 // the checkpoint that files created now will belong to
	open []*Staged

	// Set by Recover: what the commit log records of each commit, and the
	// run that names the files.
	job, run   string
	epoch      uint64
	logDurable bool // the log directory's own entry has been fsynced
	registered bool // the log records that run is of job (runEntry)
}

// NewArea returns the staging area of files with extension ext (without the
// dot) under root. fsys nil means OS().
func NewArea(root, ext string, fsys FS) (*Area, error) {
	if root == "" {
		return nil, errors.New("staging: empty root directory")
	}
	if ext == "" || strings.ContainsAny(ext, `/\`) {
		return nil, fmt.Errorf("staging: bad extension %q", ext)
	}
	if fsys == nil {
		fsys = OS()
	}
	return &Area{root: filepath.Clean(root), ext: ext, fs: fsys, next: 1}, nil
}

// Run is the run id that names the files created now; "" before Recover.
func (a *Area) Run() string { return a.run }

// Root is the area's root directory.
func (a *Area) Root() string { return a.root }

// Next is the checkpoint that files created now will be pre-committed with,
// unless the coordinator skips ids: one more than the last pre-committed or
// recovered checkpoint.
func (a *Area) Next() uint64 { return a.next }

// Open is the number of staged files not yet pre-committed.
func (a *Area) Open() int { return len(a.open) }

// Staged is a staged file open for writing. It is written by the sink's
// encoder and finished by the Area's PreCommit or Abort.
type Staged struct {
	f      File
	dir    string // slash-separated, relative to the root; "." for the root
	seq    int
	name   string // staged base name
	size   int64
	closed bool
}

// Write appends p to the file.
func (s *Staged) Write(p []byte) (int, error) {
	n, err := s.f.Write(p)
	s.size += int64(n)
	return n, err
}

// Size is the number of bytes written so far.
func (s *Staged) Size() int64 { return s.size }

// Finish makes the file durable (fsync) and closes it before PreCommit, for a
// sink that is done writing it early, so that open files stay few. PreCommit
// still lists it in the checkpoint's handle. Finishing twice does nothing.
func (s *Staged) Finish() error {
	if s.closed {
		return nil
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("staging: sync %s: %w", s.Path(), err)
	}
	s.closed = true
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("staging: close %s: %w", s.Path(), err)
	}
	return nil
}

// Path is the staged file's path relative to the area's root.
func (s *Staged) Path() string { return path.Join(s.dir, s.name) }

// Create opens the staged file number seq in dir (slash-separated, relative to
// the root; "" or "." for the root itself), creating dir as needed. The file
// belongs to the checkpoint that pre-commits next. Its name carries the run
// id, so Create fails before Recover.
func (a *Area) Create(dir string, seq int) (*Staged, error) {
	if a.run == "" {
		return nil, errors.New("staging: create: no run id yet (Recover first)")
	}
	if dir == "" {
		dir = "."
	}
	if dir != "." && !isLocal(dir) {
		return nil, fmt.Errorf("staging: bad directory %q", dir)
	}
	if seq < 0 || seq > 9999 {
		return nil, fmt.Errorf("staging: file sequence %d out of range [0, 9999]", seq)
	}
	osDir := filepath.Join(a.root, filepath.FromSlash(dir))
	if dir == LogDir || strings.HasPrefix(dir, LogDir+"/") {
		return nil, fmt.Errorf("staging: directory %q is the commit log's", dir)
	}
	if err := a.register(); err != nil {
		return nil, fmt.Errorf("staging: %w", err)
	}
	if err := a.fs.MkdirAll(osDir); err != nil {
		return nil, fmt.Errorf("staging: %w", err)
	}
	name := StagedName(a.run, a.next, seq, a.ext)
	f, err := a.fs.CreateExcl(filepath.Join(osDir, name))
	if err != nil {
		return nil, fmt.Errorf("staging: %w", err)
	}
	s := &Staged{f: f, dir: dir, seq: seq, name: name}
	a.open = append(a.open, s)
	return s, nil
}

// PreCommit makes every open staged file durable (fsync of the file, of its
// directory and of the directories above it up to the root's parent), closes
// them, and returns the handle that lists them with their final names for
// checkpoint id. The caller has flushed its encoders into the files first. A
// checkpoint with no files gets a handle with an empty list.
//
// On error the files stay open in the area, to be deleted by Abort.
func (a *Area) PreCommit(ctx context.Context, id uint64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("staging: pre-commit %d: %w", id, err)
	}
	if id < a.next {
		return nil, fmt.Errorf("staging: pre-commit %d: checkpoint ids must increase (next is %d)", id, a.next)
	}
	slices.SortFunc(a.open, func(x, y *Staged) int { return strings.Compare(x.Path(), y.Path()) })
	dirs := make(map[string]bool)
	h := Handle{Version: handleVersion, ID: id, Files: make([]Entry, 0, len(a.open))}
	for _, s := range a.open {
		if !s.closed {
			if err := s.f.Sync(); err != nil {
				return nil, fmt.Errorf("staging: pre-commit %d: sync %s: %w", id, s.Path(), err)
			}
			s.closed = true
			if err := s.f.Close(); err != nil {
				return nil, fmt.Errorf("staging: pre-commit %d: close %s: %w", id, s.Path(), err)
			}
		}
		for d := s.dir; ; d = path.Dir(d) {
			dirs[d] = true
			if d == "." {
				break
			}
		}
		h.Files = append(h.Files, Entry{Staged: s.Path(), Final: path.Join(s.dir, FinalName(a.run, id, s.seq, a.ext))})
	}
	if len(a.open) > 0 {
		dirs[".."] = true // the root's own entry, in case this run created it
	}
	if err := a.syncDirs(dirs); err != nil {
		return nil, fmt.Errorf("staging: pre-commit %d: %w", id, err)
	}
	b, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("staging: pre-commit %d: %w", id, err)
	}
	a.open = a.open[:0]
	a.next = id + 1
	return b, nil
}

// Commit writes the handle's entry to the commit log (see LogEntry) and then
// renames every file of the handle to its final name and makes the renames
// durable. It is idempotent: the entry is written again with the same
// content, and a file already renamed (staged name missing, final name
// present) is skipped. A file missing under both names is an error. It
// returns the number of files it renamed.
func (a *Area) Commit(ctx context.Context, id uint64, handle []byte) (int, error) {
	h, err := a.parseHandle(ctx, "commit", id, handle)
	if err != nil {
		return 0, err
	}
	return a.commit(id, h, true)
}

// parseHandle parses the handle of checkpoint id for op.
func (a *Area) parseHandle(ctx context.Context, op string, id uint64, handle []byte) (Handle, error) {
	if err := ctx.Err(); err != nil {
		return Handle{}, fmt.Errorf("staging: %s %d: %w", op, id, err)
	}
	h, err := ParseHandle(handle)
	if err != nil {
		return Handle{}, err
	}
	if h.ID != id {
		return Handle{}, fmt.Errorf("staging: %s %d: handle is of checkpoint %d", op, id, h.ID)
	}
	return h, nil
}

// commit is Commit of a parsed handle. With rewrite unset, the log entry is
// written only if missing (Recover keeps the entry the first commit wrote,
// with its epoch).
func (a *Area) commit(id uint64, h Handle, rewrite bool) (int, error) {
	if len(h.Files) > 0 {
		if a.run == "" {
			return 0, fmt.Errorf("staging: commit %d: no run id yet (Recover first)", id)
		}
		write := rewrite
		if !write {
			has, err := a.hasEntry(a.run, id)
			if err != nil {
				return 0, fmt.Errorf("staging: commit %d: commit log: %w", id, err)
			}
			write = !has
		}
		if write {
			e := LogEntry{Version: logVersion, Job: a.job, Run: a.run, Epoch: a.epoch, Checkpoint: id, Files: make([]string, len(h.Files))}
			for i, f := range h.Files {
				e.Files[i] = f.Final
			}
			if err := a.writeEntry(e); err != nil {
				return 0, fmt.Errorf("staging: commit %d: commit log: %w", id, err)
			}
		}
	}
	renamed := 0
	dirs := make(map[string]bool)
	for _, e := range h.Files {
		staged, final := a.osPath(e.Staged), a.osPath(e.Final)
		err := a.fs.Rename(staged, final)
		switch {
		case err == nil:
			renamed++
			dirs[path.Dir(e.Final)] = true
		case errors.Is(err, fs.ErrNotExist):
			if _, serr := a.fs.Stat(final); serr != nil {
				return renamed, fmt.Errorf("staging: commit %d: %s: staged file and final file both missing: %w", id, e.Final, serr)
			}
			// Renamed by an earlier attempt that may have died before
			// fsyncing the directory: make that rename durable now.
			dirs[path.Dir(e.Final)] = true
		default:
			return renamed, fmt.Errorf("staging: commit %d: %w", id, err)
		}
	}
	if err := a.syncDirs(dirs); err != nil {
		return renamed, fmt.Errorf("staging: commit %d: %w", id, err)
	}
	return renamed, nil
}

// removeStaged deletes the staged files under dir that owned does not list
// and that are of one of the runs mine (or of none: names from before runs).
// Staged files of other runs may be another job's, being written or waiting
// for their commit: they are left alone. Removals are not fsynced: if one is
// lost in a crash, the next Recover deletes the file again.
func (a *Area) removeStaged(dir string, owned, mine map[string]bool) error {
	entries, err := a.fs.ReadDir(a.osPath(dir))
	if err != nil {
		if dir == "." && errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	suffix := "." + a.ext + stagedSuffix
	for _, de := range entries {
		rel := path.Join(dir, de.Name())
		switch {
		case de.IsDir() && rel == LogDir:
		case de.IsDir():
			if err := a.removeStaged(rel, owned, mine); err != nil {
				return err
			}
		case IsStagedName(de.Name()) && strings.HasSuffix(de.Name(), suffix) && !owned[rel]:
			if n, err := ParseName(de.Name()); err != nil || n.Run != "" && !mine[n.Run] {
				continue
			}
			if err := a.fs.Remove(a.osPath(rel)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// Abort closes and deletes the staged files that were not pre-committed.
// Pre-committed files are left alone: they belong to a checkpoint that may have
// been persisted, and Recover decides their fate.
func (a *Area) Abort() error {
	var errs []error
	for _, s := range a.open {
		if !s.closed {
			s.closed = true
			if err := s.f.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		if err := a.fs.Remove(a.osPath(s.Path())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	a.open = a.open[:0]
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("staging: abort: %w", err)
	}
	return nil
}

func (a *Area) osPath(rel string) string {
	return filepath.Join(a.root, filepath.FromSlash(rel))
}

// syncDirs fsyncs the given directories (relative to the root; ".." is the
// root's parent), deepest first so that each entry is durable before the
// directory holding it.
func (a *Area) syncDirs(dirs map[string]bool) error {
	list := make([]string, 0, len(dirs))
	for d := range dirs {
		list = append(list, d)
	}
	depth := func(d string) int {
		switch d {
		case "..":
			return -1
		case ".":
			return 0
		}
		return strings.Count(d, "/") + 1
	}
	slices.SortFunc(list, func(x, y string) int {
		if c := depth(y) - depth(x); c != 0 {
			return c
		}
		return strings.Compare(x, y)
	})
	for _, d := range list {
		if err := a.fs.SyncDir(a.osPath(d)); err != nil {
			return fmt.Errorf("sync directory %s: %w", d, err)
		}
	}
	return nil
}
