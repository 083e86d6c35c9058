package checkpoint

import (
	"io"
	"os"
	"path/filepath"
	"sort"
)

// FS is the file-system surface a checkpoint uses.
type FS interface {
	MkdirAll(dir string) error
	// Create creates or truncates a file for writing.
	Create(name string) (File, error)
	Rename(oldname, newname string) error
	// Remove deletes a file or an empty directory.
	Remove(name string) error
	RemoveAll(name string) error
	// SyncDir makes the directory's entries (creations, renames, removals) durable.
	SyncDir(dir string) error
	ReadFile(name string) ([]byte, error)
	// ReadDir lists the names in dir, sorted.
	ReadDir(dir string) ([]string, error)
}

// File is a file being written.
type File interface {
	io.Writer
	Sync() error
	Close() error
}

// OS is the operating system's file system.
func OS() FS { return osFS{} }

type osFS struct{}

func (osFS) MkdirAll(dir string) error            { return os.MkdirAll(dir, 0o755) }
func (osFS) Create(name string) (File, error)     { return os.Create(name) }
func (osFS) Rename(o, n string) error             { return os.Rename(o, n) }
func (osFS) Remove(name string) error             { return os.Remove(name) }
func (osFS) RemoveAll(name string) error          { return os.RemoveAll(name) }
func (osFS) ReadFile(name string) ([]byte, error) { return os.ReadFile(name) }

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(filepath.Clean(dir))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (osFS) ReadDir(dir string) ([]string, error) {
	es, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(es))
	for i, e := range es {
		names[i] = e.Name()
	}
	sort.Strings(names)
	return names, nil
}
