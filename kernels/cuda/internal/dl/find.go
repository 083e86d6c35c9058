package dl

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Search is where libraries are looked for. Default fills it from the environment; tests
// build their own.
type Search struct {
	LDLibraryPath string   // the LD_LIBRARY_PATH value (colon-separated)
	System        []string // fixed system folders, in order
	PythonRoots   []string // folders holding python3.* trees (e.g. /usr/lib, ~/.local/lib)
	// NoLoaderCache skips the final bare-name dlopen (tests, so a host library cannot leak in).
	NoLoaderCache bool
}

// SystemDirs are the fixed system folders of the search, in order.
var SystemDirs = []string{"/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/local/cuda/lib64", "/usr/local/cuda/compat"}

// Default is the search of this process's environment.
func Default() Search {
	roots := []string{"/usr/lib", "/usr/local/lib"}
	if h, err := os.UserHomeDir(); err == nil && h != "" {
		roots = append(roots, filepath.Join(h, ".local", "lib"))
	}
	if v := os.Getenv("VIRTUAL_ENV"); v != "" {
		roots = append(roots, filepath.Join(v, "lib"))
	}
	return Search{LDLibraryPath: os.Getenv("LD_LIBRARY_PATH"), System: SystemDirs, PythonRoots: roots}
}

// Dirs lists the folders to search for a library of the wheel package pkg ("cublas", "nccl";
// "" for none), in search order, without duplicates. Folders need not exist.
func (s Search) Dirs(pkg string) []string {
	var dirs []string
	add := func(d string) {
		if d = filepath.Clean(d); d != "." && !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	for _, d := range strings.Split(s.LDLibraryPath, ":") {
		if d != "" {
			add(d)
		}
	}
	for _, d := range s.System {
		add(d)
	}
	for _, sp := range s.sitePackages() {
		if pkg != "" {
			add(filepath.Join(sp, "nvidia", pkg, "lib"))
		}
		add(filepath.Join(sp, "nvidia", "cu13", "lib"))
	}
	return dirs
}

// sitePackages lists every <root>/python3*/{site,dist}-packages folder that exists, sorted
// within each root.
func (s Search) sitePackages() []string {
	var out []string
	for _, root := range s.PythonRoots {
		for _, kind := range []string{"site-packages", "dist-packages"} {
			m, _ := filepath.Glob(filepath.Join(root, "python3*", kind))
			slices.Sort(m)
			out = append(out, m...)
		}
	}
	return out
}

// ErrNotFound is wrapped when no candidate file exists.
var ErrNotFound = errors.New("not found")

// FindExact returns the first dirs/name that exists, names tried in order within each folder.
func FindExact(dirs, names []string) (string, error) {
	for _, d := range dirs {
		for _, n := range names {
			p := filepath.Join(d, n)
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("%s %w in %s", strings.Join(names, " / "), ErrNotFound, strings.Join(dirs, ":"))
}

// FindVersioned returns the highest-versioned file named base or base.N[.M...] (e.g. base
// "libcublas.so" matches libcublas.so.13 and libcublas.so.12.9.1.4) in dirs; equal versions
// go to the earlier folder. A bare base (an unversioned link) ranks below any version.
func FindVersioned(dirs []string, base string) (string, error) {
	best, bestV := "", []int(nil)
	for _, d := range dirs {
		ents, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range ents { // ReadDir is sorted by name
			v, ok := ParseVersion(e.Name(), base)
			if !ok || e.IsDir() {
				continue
			}
			if best == "" || CompareVersions(v, bestV) > 0 {
				best, bestV = filepath.Join(d, e.Name()), v
			}
		}
	}
	if best == "" {
		return "", fmt.Errorf("%s* %w in %s", base, ErrNotFound, strings.Join(dirs, ":"))
	}
	return best, nil
}

// ParseVersion splits name = base[.N[.M...]] into its numeric version ([] for bare base).
func ParseVersion(name, base string) ([]int, bool) {
	if name == base {
		return []int{}, true
	}
	rest, ok := strings.CutPrefix(name, base+".")
	if !ok || rest == "" {
		return nil, false
	}
	var v []int
	for _, f := range strings.Split(rest, ".") {
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 {
			return nil, false
		}
		v = append(v, n)
	}
	return v, true
}

// CompareVersions orders versions numerically, a longer version above its own prefix.
func CompareVersions(a, b []int) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return len(a) - len(b)
}
