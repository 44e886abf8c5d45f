package stagingtest

import (
	"errors"
	"fmt"
	"io/fs"
	"sync"

	"github.com/shardflow/shardflow/sinks/staging"
)

// Op names a call of staging.FS or staging.File.
type Op string

// The calls that FaultFS counts and can fail.
const (
	OpMkdirAll Op = "mkdirall"
	OpCreate   Op = "create"
	OpWrite    Op = "write"
	OpSync     Op = "sync"
	OpClose    Op = "close"
	OpRename   Op = "rename"
	OpRemove   Op = "remove"
	OpStat     Op = "stat"
	OpReadFile Op = "readfile"
	OpReadDir  Op = "readdir"
	OpSyncDir  Op = "syncdir"
)

// ErrInjected is the error of a call that FaultFS fails.
var ErrInjected = errors.New("stagingtest: injected failure")

// FaultFS wraps a staging.FS and fails calls on demand. A crash is a failed
// call after which every call fails, as nothing more happens in a process that
// died; the test then abandons the sink (no Close) and recovers with a new one.
type FaultFS struct {
	inner staging.FS

	mu      sync.Mutex
	calls   map[Op]int
	fail    map[Op]int // op -> the call number that fails
	crash   map[Op]bool
	crashed bool
}

// NewFaultFS wraps inner (staging.OS() when nil).
func NewFaultFS(inner staging.FS) *FaultFS {
	if inner == nil {
		inner = staging.OS()
	}
	return &FaultFS{inner: inner, calls: map[Op]int{}, fail: map[Op]int{}, crash: map[Op]bool{}}
}

// FailOnce makes the n-th call of op from now on fail; later calls succeed.
func (f *FaultFS) FailOnce(op Op, n int) { f.set(op, n, false) }

// CrashAt makes the n-th call of op from now on fail, and every call after it.
func (f *FaultFS) CrashAt(op Op, n int) { f.set(op, n, true) }

func (f *FaultFS) set(op Op, n int, crash bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[op] = f.calls[op] + n
	f.crash[op] = crash
}

// Crashed reports whether a crash point was reached.
func (f *FaultFS) Crashed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.crashed
}

// Calls is the number of calls of op so far.
func (f *FaultFS) Calls(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

func (f *FaultFS) check(op Op, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	if f.crashed {
		return fmt.Errorf("%s %s: %w (crashed)", op, name, ErrInjected)
	}
	if n, ok := f.fail[op]; ok && f.calls[op] == n {
		delete(f.fail, op)
		f.crashed = f.crash[op]
		return fmt.Errorf("%s %s: %w", op, name, ErrInjected)
	}
	return nil
}

func (f *FaultFS) MkdirAll(dir string) error {
	if err := f.check(OpMkdirAll, dir); err != nil {
		return err
	}
	return f.inner.MkdirAll(dir)
}

func (f *FaultFS) CreateExcl(name string) (staging.File, error) {
	if err := f.check(OpCreate, name); err != nil {
		return nil, err
	}
	file, err := f.inner.CreateExcl(name)
	if err != nil {
		return nil, err
	}
	return &faultFile{fs: f, f: file, name: name}, nil
}

func (f *FaultFS) Rename(oldname, newname string) error {
	if err := f.check(OpRename, oldname); err != nil {
		return err
	}
	return f.inner.Rename(oldname, newname)
}

func (f *FaultFS) Remove(name string) error {
	if err := f.check(OpRemove, name); err != nil {
		return err
	}
	return f.inner.Remove(name)
}

func (f *FaultFS) Stat(name string) (fs.FileInfo, error) {
	if err := f.check(OpStat, name); err != nil {
		return nil, err
	}
	return f.inner.Stat(name)
}

func (f *FaultFS) ReadFile(name string) ([]byte, error) {
	if err := f.check(OpReadFile, name); err != nil {
		return nil, err
	}
	return f.inner.ReadFile(name)
}

func (f *FaultFS) ReadDir(dir string) ([]fs.DirEntry, error) {
	if err := f.check(OpReadDir, dir); err != nil {
		return nil, err
	}
	return f.inner.ReadDir(dir)
}

func (f *FaultFS) SyncDir(dir string) error {
	if err := f.check(OpSyncDir, dir); err != nil {
		return err
	}
	return f.inner.SyncDir(dir)
}

type faultFile struct {
	fs   *FaultFS
	f    staging.File
	name string
}

func (ff *faultFile) Write(p []byte) (int, error) {
	if err := ff.fs.check(OpWrite, ff.name); err != nil {
		return 0, err
	}
	return ff.f.Write(p)
}

func (ff *faultFile) Sync() error {
	if err := ff.fs.check(OpSync, ff.name); err != nil {
		return err
	}
	return ff.f.Sync()
}

// Close always closes the real file (a dead process's descriptors close too)
// but reports the injected failure.
func (ff *faultFile) Close() error {
	err := ff.fs.check(OpClose, ff.name)
	if cerr := ff.f.Close(); err == nil {
		err = cerr
	}
	return err
}

var _ staging.FS = (*FaultFS)(nil)
