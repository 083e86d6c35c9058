package checkpoint

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
)

// MemFS is an in-memory FS that models what survives a crash: file contents are durable once
// synced, directory entries once their directory is synced (so an unsynced create or rename
// can vanish). Crash returns the state after a power cut. Every operation is logged (Ops) and
// an operation budget (CrashAfter) makes later operations fail, to stop a writer part-way.
type MemFS struct {
	mu        sync.Mutex
	dirs      map[string]*memDir
	ops       []string
	budget    int // operations still allowed; < 0: unlimited
	nextInode int
	inodes    map[int]*inode
}

type memDir struct {
	cur, synced map[string]int // name → inode (0 for a subdirectory)
}

type inode struct {
	data, synced []byte
}

// NewMemFS returns an empty file system with a root directory "/".
func NewMemFS() *MemFS {
	m := &MemFS{dirs: map[string]*memDir{}, budget: -1, inodes: map[int]*inode{}}
	m.dirs["/"] = &memDir{cur: map[string]int{}, synced: map[string]int{}}
	return m
}

// Ops returns the operations performed so far.
func (m *MemFS) Ops() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.ops...)
}

// CrashAfter lets n more operations succeed; later ones fail (as if the machine stopped).
func (m *MemFS) CrashAfter(n int) {
	m.mu.Lock()
	m.budget = n
	m.mu.Unlock()
}

var errCrashed = fmt.Errorf("memfs: crashed")

// op logs an operation and checks the budget.
func (m *MemFS) op(format string, args ...any) error {
	if m.budget == 0 {
		return errCrashed
	}
	if m.budget > 0 {
		m.budget--
	}
	m.ops = append(m.ops, fmt.Sprintf(format, args...))
	return nil
}

func clean(name string) string { return path.Clean("/" + name) }

func (m *MemFS) dir(name string) (*memDir, error) {
	d := m.dirs[clean(name)]
	if d == nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return d, nil
}

func (m *MemFS) MkdirAll(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.op("mkdirall %s", clean(dir)); err != nil {
		return err
	}
	p := clean(dir)
	var parts []string
	for q := p; q != "/"; q = path.Dir(q) {
		parts = append(parts, q)
	}
	for i := len(parts) - 1; i >= 0; i-- {
		q := parts[i]
		if m.dirs[q] != nil {
			continue
		}
		parent := m.dirs[path.Dir(q)]
		if _, isFile := parent.cur[path.Base(q)]; isFile {
			return &fs.PathError{Op: "mkdir", Path: q, Err: fs.ErrExist}
		}
		m.dirs[q] = &memDir{cur: map[string]int{}, synced: map[string]int{}}
		parent.cur[path.Base(q)] = 0
	}
	return nil
}

type memFile struct {
	m    *MemFS
	name string
	ino  int
	buf  bytes.Buffer
}

func (m *MemFS) Create(name string) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.op("create %s", clean(name)); err != nil {
		return nil, err
	}
	d, err := m.dir(path.Dir(clean(name)))
	if err != nil {
		return nil, err
	}
	m.nextInode++
	m.inodes[m.nextInode] = &inode{}
	d.cur[path.Base(clean(name))] = m.nextInode
	return &memFile{m: m, name: clean(name), ino: m.nextInode}, nil
}

func (f *memFile) Write(p []byte) (int, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.m.op("write %s %d", f.name, len(p)); err != nil {
		return 0, err
	}
	f.m.inodes[f.ino].data = append(f.m.inodes[f.ino].data, p...)
	return len(p), nil
}

func (f *memFile) Sync() error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.m.op("sync %s", f.name); err != nil {
		return err
	}
	n := f.m.inodes[f.ino]
	n.synced = append([]byte(nil), n.data...)
	return nil
}

func (f *memFile) Close() error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	return f.m.op("close %s", f.name)
}

func (m *MemFS) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.op("rename %s %s", clean(oldname), clean(newname)); err != nil {
		return err
	}
	od, err := m.dir(path.Dir(clean(oldname)))
	if err != nil {
		return err
	}
	nd, err := m.dir(path.Dir(clean(newname)))
	if err != nil {
		return err
	}
	ino, ok := od.cur[path.Base(clean(oldname))]
	if !ok || ino == 0 {
		return &fs.PathError{Op: "rename", Path: oldname, Err: fs.ErrNotExist}
	}
	delete(od.cur, path.Base(clean(oldname)))
	nd.cur[path.Base(clean(newname))] = ino
	return nil
}

func (m *MemFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.op("remove %s", clean(name)); err != nil {
		return err
	}
	return m.remove(clean(name), false)
}

func (m *MemFS) RemoveAll(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.op("removeall %s", clean(name)); err != nil {
		return err
	}
	return m.remove(clean(name), true)
}

func (m *MemFS) remove(p string, all bool) error {
	parent, err := m.dir(path.Dir(p))
	if err != nil {
		return err
	}
	base := path.Base(p)
	ino, ok := parent.cur[base]
	if !ok {
		if all {
			return nil
		}
		return &fs.PathError{Op: "remove", Path: p, Err: fs.ErrNotExist}
	}
	if ino == 0 {
		d := m.dirs[p]
		if len(d.cur) > 0 && !all {
			return &fs.PathError{Op: "remove", Path: p, Err: fmt.Errorf("directory not empty")}
		}
		for q := range m.dirs {
			if q == p || strings.HasPrefix(q, p+"/") {
				delete(m.dirs, q)
			}
		}
	}
	delete(parent.cur, base)
	return nil
}

func (m *MemFS) SyncDir(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.op("syncdir %s", clean(dir)); err != nil {
		return err
	}
	d, err := m.dir(dir)
	if err != nil {
		return err
	}
	d.synced = map[string]int{}
	for k, v := range d.cur {
		d.synced[k] = v
	}
	return nil
}

func (m *MemFS) ReadFile(name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, err := m.dir(path.Dir(clean(name)))
	if err != nil {
		return nil, err
	}
	ino, ok := d.cur[path.Base(clean(name))]
	if !ok || ino == 0 {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return append([]byte(nil), m.inodes[ino].data...), nil
}

func (m *MemFS) ReadDir(dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, err := m.dir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(d.cur))
	for k := range d.cur {
		names = append(names, k)
	}
	sort.Strings(names)
	return names, nil
}

// Crash returns the file system as it would be found after a power cut now: only synced
// directory entries, and only synced file contents. The log starts empty.
func (m *MemFS) Crash() *MemFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := NewMemFS()
	var walk func(p string)
	walk = func(p string) {
		d := m.dirs[p]
		nd := c.dirs[p]
		for name, ino := range d.synced {
			q := path.Join(p, name)
			if ino == 0 {
				if m.dirs[q] == nil {
					continue // removed since, and the removal not synced: gone anyway
				}
				c.dirs[q] = &memDir{cur: map[string]int{}, synced: map[string]int{}}
				nd.cur[name], nd.synced[name] = 0, 0
				walk(q)
				continue
			}
			c.nextInode++
			c.inodes[c.nextInode] = &inode{data: append([]byte(nil), m.inodes[ino].synced...), synced: append([]byte(nil), m.inodes[ino].synced...)}
			nd.cur[name], nd.synced[name] = c.nextInode, c.nextInode
		}
	}
	walk("/")
	return c
}
