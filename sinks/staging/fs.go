package staging

import (
	"io"
	"io/fs"
	"os"
)

// File is a staged file open for writing.
type File interface {
	io.Writer
	Sync() error
	Close() error
}

// FS is the part of the file system that a staging Area uses. Paths are
// operating-system paths. OS returns the real implementation; tests wrap it to
// fail calls on demand.
type FS interface {
	// MkdirAll creates dir and its missing parents.
	MkdirAll(dir string) error
	// CreateExcl creates name for writing; it fails if name exists.
	CreateExcl(name string) (File, error)
	// Rename renames oldname to newname, replacing newname.
	Rename(oldname, newname string) error
	// Remove deletes the file name.
	Remove(name string) error
	// Stat describes name; a missing file yields an error satisfying
	// errors.Is(err, fs.ErrNotExist).
	Stat(name string) (fs.FileInfo, error)
	// ReadFile returns the contents of the file name.
	ReadFile(name string) ([]byte, error)
	// ReadDir lists the directory dir.
	ReadDir(dir string) ([]fs.DirEntry, error)
	// SyncDir makes dir's entries (creations, renames, removals) durable.
	SyncDir(dir string) error
}

// OS returns the FS of the operating system.
func OS() FS { return osFS{} }

type osFS struct{}

func (osFS) MkdirAll(dir string) error { return os.MkdirAll(dir, 0o755) }

func (osFS) CreateExcl(name string) (File, error) {
	return os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
}

func (osFS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }

func (osFS) Remove(name string) error { return os.Remove(name) }

func (osFS) Stat(name string) (fs.FileInfo, error) { return os.Stat(name) }

func (osFS) ReadFile(name string) ([]byte, error) { return os.ReadFile(name) }

func (osFS) ReadDir(dir string) ([]fs.DirEntry, error) { return os.ReadDir(dir) }

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
