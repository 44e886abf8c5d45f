package checkpoint

import (
	"errors"
	"io/fs"
	"os"
	"sync"
)

// faultFS is the real file system with a step that fails on demand. The
// steps are named after the methods: "mkdir", "create", "write", "sync",
// "close", "rename", "syncdir", "remove", "readdir", "readfile", "stat",
// "openfile", and "shortwrite" (Write writes half and reports no error).
type faultFS struct {
	osFS
	mu   sync.Mutex
	fail map[string]fault
	// before, if set, runs before every step, with the step's name.
	before func(step string)
}

type fault struct {
	err error
	n   int // calls left to fail; < 0 for all
}

func newFaultFS() *faultFS { return &faultFS{fail: map[string]fault{}} }

var errInjected = errors.New("injected fault")

// set makes every call of step fail with errInjected.
func (f *faultFS) set(step string) { f.setN(step, errInjected, -1) }

// setN makes the next n calls of step fail with err (all calls for n < 0).
func (f *faultFS) setN(step string, err error, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[step] = fault{err, n}
}

func (f *faultFS) clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.fail)
}

func (f *faultFS) err(step string) error {
	if f.before != nil {
		f.before(step)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ft, ok := f.fail[step]
	if !ok || ft.n == 0 {
		return nil
	}
	if ft.n > 0 {
		ft.n--
		f.fail[step] = ft
	}
	return ft.err
}

func (f *faultFS) MkdirAll(path string, perm fs.FileMode) error {
	if err := f.err("mkdir"); err != nil {
		return err
	}
	return f.osFS.MkdirAll(path, perm)
}

func (f *faultFS) CreateTemp(dir, pattern string) (file, error) {
	if err := f.err("create"); err != nil {
		return nil, err
	}
	file, err := f.osFS.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	return &faultFile{file: file, fs: f}, nil
}

func (f *faultFS) Rename(oldpath, newpath string) error {
	if err := f.err("rename"); err != nil {
		return err
	}
	return f.osFS.Rename(oldpath, newpath)
}

func (f *faultFS) Remove(name string) error {
	if err := f.err("remove"); err != nil {
		return err
	}
	return f.osFS.Remove(name)
}

func (f *faultFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if err := f.err("readdir"); err != nil {
		return nil, err
	}
	return f.osFS.ReadDir(name)
}

func (f *faultFS) ReadFile(name string) ([]byte, error) {
	if err := f.err("readfile"); err != nil {
		return nil, err
	}
	return f.osFS.ReadFile(name)
}

func (f *faultFS) Stat(name string) (fs.FileInfo, error) {
	if err := f.err("stat"); err != nil {
		return nil, err
	}
	return f.osFS.Stat(name)
}

func (f *faultFS) OpenFile(name string, flag int, perm fs.FileMode) (*os.File, error) {
	if err := f.err("openfile"); err != nil {
		return nil, err
	}
	return f.osFS.OpenFile(name, flag, perm)
}

func (f *faultFS) SyncDir(name string) error {
	if err := f.err("syncdir"); err != nil {
		return err
	}
	return f.osFS.SyncDir(name)
}

type faultFile struct {
	file
	fs *faultFS
}

func (f *faultFile) Write(p []byte) (int, error) {
	if err := f.fs.err("write"); err != nil {
		return 0, err
	}
	if f.fs.err("shortwrite") != nil {
		return f.file.Write(p[:len(p)/2])
	}
	return f.file.Write(p)
}

func (f *faultFile) Sync() error {
	if err := f.fs.err("sync"); err != nil {
		return err
	}
	return f.file.Sync()
}

func (f *faultFile) Close() error {
	if err := f.fs.err("close"); err != nil {
		_ = f.file.Close()
		return err
	}
	return f.file.Close()
}
