package staging

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// LogDir is the directory, under an Area's root, of its commit log. Its
// leading underscore keeps it out of readers' globs (DuckDB's, Spark's and
// Trino's readers skip "_" and "." paths; the log's files are .json anyway).
const LogDir = "_shardflow"

// logVersion is the version of a LogEntry's JSON format.
const logVersion = 1

// LogEntry is one commit in an Area's commit log: the files that a checkpoint
// of a run of a job committed. It is stored as
//
//	<root>/_shardflow/commit-<run>-<checkpoint:08d>.<ext>.json
//
// and written (atomically and durably) before the checkpoint's files are
// renamed, so that the log lists every committed file, and, after a crash
// mid-commit, some files that are still staged.
type LogEntry struct {
	Version    int    `json:"version"`
	Job        string `json:"job"`
	Run        string `json:"run"`
	Epoch      uint64 `json:"epoch"`
	Checkpoint uint64 `json:"checkpoint"`
	// Files are the final paths, slash-separated and relative to the root.
	Files []string `json:"files"`
}

// logName is the base name of the entry of checkpoint id of run.
func logName(run string, id uint64, ext string) string {
	return "commit-" + run + "-" + pad(id, 8) + "." + ext + ".json"
}

// parseLogName parses a base name made by logName with extension ext; ok is
// false for a name of another extension or not an entry.
func parseLogName(base, ext string) (run string, id uint64, ok bool) {
	stem, ok := strings.CutPrefix(base, "commit-")
	if !ok {
		return "", 0, false
	}
	if stem, ok = strings.CutSuffix(stem, "."+ext+".json"); !ok {
		return "", 0, false
	}
	i := strings.LastIndexByte(stem, '-')
	if i < 0 || !digits(stem[i+1:], 8, 20) || ValidateRun(stem[:i]) != nil {
		return "", 0, false
	}
	id, err := strconv.ParseUint(stem[i+1:], 10, 64)
	return stem[:i], id, err == nil
}

// ReadLog returns the entries of the area's commit log (those of its
// extension, of every job), sorted by job, run and checkpoint. A log that
// does not exist is empty; an entry that cannot be read or makes no sense is
// an error, for the log decides what Recover and overwriting may delete.
func (a *Area) ReadLog() ([]LogEntry, error) {
	dir := a.osPath(LogDir)
	des, err := a.fs.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("staging: commit log: %w", err)
	}
	var out []LogEntry
	for _, de := range des {
		run, id, ok := parseLogName(de.Name(), a.ext)
		if !ok || de.IsDir() {
			continue
		}
		rel := path.Join(LogDir, de.Name())
		b, err := a.fs.ReadFile(a.osPath(rel))
		if err != nil {
			return nil, fmt.Errorf("staging: commit log: %w", err)
		}
		var e LogEntry
		if err := json.Unmarshal(b, &e); err != nil {
			return nil, fmt.Errorf("staging: commit log %s: %w", a.osPath(rel), err)
		}
		if err := a.checkEntry(e, run, id); err != nil {
			return nil, fmt.Errorf("staging: commit log %s: %w", a.osPath(rel), err)
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(x, y LogEntry) int {
		if c := strings.Compare(x.Job, y.Job); c != 0 {
			return c
		}
		if c := strings.Compare(x.Run, y.Run); c != 0 {
			return c
		}
		return cmp.Compare(x.Checkpoint, y.Checkpoint)
	})
	return out, nil
}

// checkEntry checks an entry read from the file named for run and id.
func (a *Area) checkEntry(e LogEntry, run string, id uint64) error {
	if e.Version != logVersion {
		return fmt.Errorf("version %d, want %d", e.Version, logVersion)
	}
	if e.Run != run || e.Checkpoint != id {
		return fmt.Errorf("holds run %q checkpoint %d, its name says run %q checkpoint %d", e.Run, e.Checkpoint, run, id)
	}
	if e.Job == "" {
		return errors.New("no job")
	}
	for _, f := range e.Files {
		n, err := ParseName(path.Base(f))
		if !isLocal(f) || err != nil || n.Staged || n.Ext != a.ext || n.Checkpoint != id || strings.HasPrefix(f, LogDir+"/") {
			return fmt.Errorf("bad file %q", f)
		}
	}
	return nil
}

// writeEntry writes e to the log atomically and durably (writeLogFile).
func (a *Area) writeEntry(e LogEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return a.writeLogFile(logName(e.Run, e.Checkpoint, a.ext), b)
}

// writeLogFile makes b the content of the file name in the log directory,
// atomically and durably: a temporary file, fsync, rename, fsync of the log
// directory (and, once per area, of the root and its parent, which may have
// been created with it).
func (a *Area) writeLogFile(name string, b []byte) error {
	dir := a.osPath(LogDir)
	tmp := a.osPath(path.Join(LogDir, "."+name+".tmp"))
	if err := a.fs.MkdirAll(dir); err != nil {
		return err
	}
	// A temporary file left by a crash is of this very file: replace it.
	if err := a.fs.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := a.fs.CreateExcl(tmp)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := a.fs.Rename(tmp, a.osPath(path.Join(LogDir, name))); err != nil {
		return err
	}
	dirs := map[string]bool{LogDir: true}
	if !a.logDurable {
		dirs["."], dirs[".."] = true, true
	}
	if err := a.syncDirs(dirs); err != nil {
		return err
	}
	a.logDurable = true
	return nil
}

// runEntry is the log's record of which job a run belongs to, stored as
//
//	<root>/_shardflow/run-<run>.<ext>.json
//
// and written before the run's first staged file is created, so that
// Recover deletes the staged files of its own job's runs (a run that crashed
// before its first commit included) and never those of another job writing
// into the same directory.
type runEntry struct {
	Version int    `json:"version"`
	Job     string `json:"job"`
	Run     string `json:"run"`
}

func runName(run, ext string) string { return "run-" + run + "." + ext + ".json" }

// register writes the entry of the area's run, once.
func (a *Area) register() error {
	if a.registered {
		return nil
	}
	b, err := json.Marshal(runEntry{Version: logVersion, Job: a.job, Run: a.run})
	if err != nil {
		return err
	}
	if err := a.writeLogFile(runName(a.run, a.ext), b); err != nil {
		return fmt.Errorf("commit log: register run %s: %w", a.run, err)
	}
	a.registered = true
	return nil
}

// readRuns returns the job of every run registered in the log (runEntry).
// An entry that cannot be read is an error, as in ReadLog.
func (a *Area) readRuns() (map[string]string, error) {
	des, err := a.fs.ReadDir(a.osPath(LogDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("staging: commit log: %w", err)
	}
	runs := make(map[string]string)
	for _, de := range des {
		stem, ok := strings.CutPrefix(de.Name(), "run-")
		if !ok || de.IsDir() {
			continue
		}
		if stem, ok = strings.CutSuffix(stem, "."+a.ext+".json"); !ok || ValidateRun(stem) != nil {
			continue
		}
		rel := path.Join(LogDir, de.Name())
		b, err := a.fs.ReadFile(a.osPath(rel))
		if err != nil {
			return nil, fmt.Errorf("staging: commit log: %w", err)
		}
		var e runEntry
		if err := json.Unmarshal(b, &e); err != nil {
			return nil, fmt.Errorf("staging: commit log %s: %w", a.osPath(rel), err)
		}
		if e.Version != logVersion || e.Run != stem || e.Job == "" {
			return nil, fmt.Errorf("staging: commit log %s: not the registration of run %q", a.osPath(rel), stem)
		}
		runs[e.Run] = e.Job
	}
	return runs, nil
}

// hasEntry reports whether the log holds the entry of checkpoint id of run.
func (a *Area) hasEntry(run string, id uint64) (bool, error) {
	return a.exists(path.Join(LogDir, logName(run, id, a.ext)))
}

// removeEntries deletes the entries of the log, durably.
func (a *Area) removeEntries(es []LogEntry) error {
	if len(es) == 0 {
		return nil
	}
	for _, e := range es {
		err := a.fs.Remove(a.osPath(path.Join(LogDir, logName(e.Run, e.Checkpoint, a.ext))))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return a.fs.SyncDir(a.osPath(LogDir))
}
