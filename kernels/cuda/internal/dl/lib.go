package dl

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/ebitengine/purego"
)

// Lib is an opened shared library.
type Lib struct {
	Path string // the file opened (or the bare name the loader resolved)
	h    uintptr
}

// Open dlopens path with RTLD_NOW|RTLD_GLOBAL (global, so a library opened first satisfies
// the dependencies of the next one, e.g. libcublasLt before libcublas).
func Open(path string) (*Lib, error) {
	h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return nil, fmt.Errorf("dlopen %s: %w", path, err)
	}
	return &Lib{Path: path, h: h}, nil
}

// OpenExact opens the first of names found along s.Dirs(pkg), then (unless
// s.NoLoaderCache) each bare name through the loader's cache. The error lists where it looked.
func OpenExact(s Search, pkg string, names ...string) (*Lib, error) {
	dirs := s.Dirs(pkg)
	p, err := FindExact(dirs, names)
	if err == nil {
		return Open(p)
	}
	if !s.NoLoaderCache {
		for _, n := range names {
			if l, lerr := Open(n); lerr == nil {
				return l, nil
			}
		}
	}
	return nil, err
}

// OpenVersioned opens the highest version of base along s.Dirs(pkg); deps are other bases
// (e.g. "libcublasLt.so") opened first from the same folder when present there.
func OpenVersioned(s Search, pkg, base string, deps ...string) (*Lib, error) {
	p, err := FindVersioned(s.Dirs(pkg), base)
	if err != nil {
		if s.NoLoaderCache {
			return nil, err
		}
		l, lerr := Open(base)
		if lerr != nil {
			return nil, err
		}
		return l, nil
	}
	for _, d := range deps {
		if dp, derr := FindVersioned([]string{filepath.Dir(p)}, d); derr == nil {
			if _, oerr := Open(dp); oerr != nil {
				return nil, oerr
			}
		}
	}
	return Open(p)
}

// ErrMissingSymbol is wrapped when a library lacks a symbol.
var ErrMissingSymbol = errors.New("missing symbol")

// Sym returns the address of name.
func (l *Lib) Sym(name string) (uintptr, error) {
	p, err := purego.Dlsym(l.h, name)
	if err != nil || p == 0 {
		return 0, fmt.Errorf("%s: %w %s", l.Path, ErrMissingSymbol, name)
	}
	return p, nil
}

// Bind sets *fptr (a pointer to a func variable) to call the first of names the library
// exports (a versioned symbol first, its older name after).
func (l *Lib) Bind(fptr any, names ...string) (err error) {
	var sym uintptr
	for _, n := range names {
		if sym, err = l.Sym(n); err == nil {
			break
		}
	}
	if err != nil {
		return err
	}
	defer func() { // RegisterFunc panics only on a Go signature it cannot marshal
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: bind %s: %v", l.Path, names[0], r)
		}
	}()
	purego.RegisterFunc(fptr, sym)
	return nil
}

// Binder binds many symbols, keeping the first error.
type Binder struct {
	Lib *Lib
	Err error
}

// Bind binds fptr to the first of names unless an earlier bind failed.
func (b *Binder) Bind(fptr any, names ...string) {
	if b.Err == nil {
		b.Err = b.Lib.Bind(fptr, names...)
	}
}
