package hfhub

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// RepoType is the kind of hub repository; it names the cache folder prefix and the URL.
type RepoType string

// Repository kinds, as huggingface_hub names them.
const (
	Model   RepoType = "model"
	Dataset RepoType = "dataset"
	Space   RepoType = "space"
)

// Repo is a hub repository: its kind (empty = Model) and id "org/name" (or "name").
type Repo struct {
	Type RepoType
	ID   string
}

func (r Repo) kind() RepoType {
	if r.Type == "" {
		return Model
	}
	return r.Type
}

func (r Repo) String() string {
	if r.kind() == Model {
		return r.ID
	}
	return string(r.kind()) + "s/" + r.ID
}

// folder is the repository's folder in the cache: "models--org--name".
func (r Repo) folder() string {
	return string(r.kind()) + "s--" + strings.ReplaceAll(r.ID, "/", "--")
}

// urlPrefix is the repository's path on the hub: "org/name" or "datasets/org/name".
func (r Repo) urlPrefix() string {
	if r.kind() == Model {
		return r.ID
	}
	return string(r.kind()) + "s/" + r.ID
}

var repoIDRe = regexp.MustCompile(`^(\b[\w\-.]+\b/)?\b[\w\-.]+\b$`)

// Validate checks the id with huggingface_hub's rules (validate_repo_id): "name" or
// "org/name" of letters, digits, '-', '_', '.', not starting or ending with '-' or '.',
// without "--" or "..", not ending in ".git", at most 96 characters.
func (r Repo) Validate() error {
	switch r.kind() {
	case Model, Dataset, Space:
	default:
		return fmt.Errorf("hfhub: repo type %q is not model, dataset or space", r.Type)
	}
	id := r.ID
	switch {
	case id == "":
		return errors.New("hfhub: empty repo id")
	case len(id) > 96:
		return fmt.Errorf("hfhub: repo id %q is longer than 96 characters", id)
	case !repoIDRe.MatchString(id):
		return fmt.Errorf("hfhub: repo id %q is not \"name\" or \"org/name\" of letters, digits, '-', '_', '.'", id)
	case strings.Contains(id, "--") || strings.Contains(id, ".."):
		return fmt.Errorf("hfhub: repo id %q contains \"--\" or \"..\"", id)
	case strings.HasSuffix(id, ".git"):
		return fmt.Errorf("hfhub: repo id %q ends in .git", id)
	}
	return nil
}

// IsRepoID reports whether s is a valid model repo id ("org/name" or "name").
func IsRepoID(s string) bool { return Repo{ID: s}.Validate() == nil }

var commitRe = regexp.MustCompile(`^[0-9a-f]{40}$`)

// IsCommit reports whether rev is a full commit hash (40 lowercase hex digits).
func IsCommit(rev string) bool { return commitRe.MatchString(rev) }

// checkRevision rejects revisions that would escape refs/ when used as a path.
func checkRevision(rev string) error {
	if rev == "" {
		return errors.New("hfhub: empty revision")
	}
	for _, part := range strings.Split(rev, "/") {
		if part == "" || part == "." || part == ".." || strings.ContainsAny(part, "\\\x00") {
			return fmt.Errorf("hfhub: revision %q is not a branch, tag or commit", rev)
		}
	}
	return nil
}

// checkFile rejects file names that are not clean relative paths inside a repository.
func checkFile(file string) error {
	if file == "" || strings.HasPrefix(file, "/") || strings.Contains(file, "\\") || strings.Contains(file, "\x00") {
		return fmt.Errorf("hfhub: file %q is not a relative path in the repository", file)
	}
	for _, part := range strings.Split(file, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("hfhub: file %q is not a clean relative path in the repository", file)
		}
	}
	return nil
}

// CacheDir is the hub cache folder as huggingface_hub finds it: $HF_HUB_CACHE, else the
// legacy $HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, where HF_HOME defaults to
// $XDG_CACHE_HOME/huggingface, and XDG_CACHE_HOME to ~/.cache.
func CacheDir() (string, error) {
	for _, v := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"} {
		if d := os.Getenv(v); d != "" {
			return expandHome(d)
		}
	}
	home, err := hfHome()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, "hub"), nil
}

// hfHome is $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface.
func hfHome() (string, error) {
	if d := os.Getenv("HF_HOME"); d != "" {
		return expandHome(d)
	}
	xdg := os.Getenv("XDG_CACHE_HOME")
	if xdg == "" {
		xdg = "~/.cache"
	}
	d, err := expandHome(xdg)
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "huggingface"), nil
}

// expandHome replaces a leading "~" with the user's home directory (Python's expanduser).
func expandHome(p string) (string, error) {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("hfhub: %s: %w", p, err)
	}
	return filepath.Join(home, p[1:]), nil
}

// Cache is a hub cache folder with huggingface_hub's layout:
//
//	<dir>/models--org--name/refs/<revision>          the commit hash the revision pointed to
//	<dir>/models--org--name/snapshots/<commit>/<file> symlink to ../../blobs/<etag>
//	<dir>/models--org--name/blobs/<etag>             file contents, named by ETag (sha256 for LFS)
//	<dir>/models--org--name/.no_exist/<commit>/<file> empty: the file does not exist at that commit
//	<dir>/.locks/models--org--name/<etag>.lock       download lock
type Cache struct {
	Dir string
}

func (c Cache) repoDir(r Repo) string { return filepath.Join(c.Dir, r.folder()) }

// Commit resolves a revision to a commit hash from the cache alone: a commit hash is itself,
// anything else is read from refs/<revision>.
func (c Cache) Commit(r Repo, revision string) (string, error) {
	if err := r.Validate(); err != nil {
		return "", err
	}
	if err := checkRevision(revision); err != nil {
		return "", err
	}
	if IsCommit(revision) {
		return revision, nil
	}
	ref := filepath.Join(c.repoDir(r), "refs", filepath.FromSlash(revision))
	b, err := os.ReadFile(ref)
	if errors.Is(err, os.ErrNotExist) {
		return "", &Error{Repo: r, Revision: revision, Kind: ErrNotCached,
			Msg: "revision " + revision + " is not in the cache " + c.Dir}
	}
	if err != nil {
		return "", err
	}
	commit := strings.TrimSpace(string(b))
	if !IsCommit(commit) {
		return "", fmt.Errorf("hfhub: %s: %q is not a commit hash", ref, commit)
	}
	return commit, nil
}

// File returns the path of file at revision from the cache alone. It fails with an *Error
// of Kind ErrNotCached when the cache does not hold it, and ErrNotFound when the cache
// recorded (.no_exist) that the repository has no such file at that commit.
func (c Cache) File(r Repo, revision, file string) (string, error) {
	if err := checkFile(file); err != nil {
		return "", err
	}
	commit, err := c.Commit(r, revision)
	if err != nil {
		if e := (*Error)(nil); errors.As(err, &e) {
			e.File = file
		}
		return "", err
	}
	dir := c.repoDir(r)
	if _, err := os.Stat(filepath.Join(dir, ".no_exist", commit, filepath.FromSlash(file))); err == nil {
		return "", &Error{Repo: r, Revision: revision, File: file, Kind: ErrNotFound,
			Msg: "the cache records that the repository has no such file at commit " + commit}
	}
	p := filepath.Join(dir, "snapshots", commit, filepath.FromSlash(file))
	if _, err := os.Stat(p); err != nil { // follows the symlink: a dangling one is not cached
		return "", &Error{Repo: r, Revision: revision, File: file, Kind: ErrNotCached,
			Msg: "not in the cache " + c.Dir}
	}
	return p, nil
}

// Snapshot returns the snapshot folder of revision from the cache alone, after checking that
// each of files is in it.
func (c Cache) Snapshot(r Repo, revision string, files ...string) (string, error) {
	commit, err := c.Commit(r, revision)
	if err != nil {
		return "", err
	}
	for _, f := range files {
		if _, err := c.File(r, commit, f); err != nil {
			if e := (*Error)(nil); errors.As(err, &e) {
				e.Revision = revision
			}
			return "", err
		}
	}
	dir := filepath.Join(c.repoDir(r), "snapshots", commit)
	if _, err := os.Stat(dir); err != nil {
		return "", &Error{Repo: r, Revision: revision, Kind: ErrNotCached, Msg: "no snapshot in the cache " + c.Dir}
	}
	return dir, nil
}
