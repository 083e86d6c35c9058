package hfhub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// DefaultEndpoint is the hub's address when HF_ENDPOINT is not set.
const DefaultEndpoint = "https://huggingface.co"

// Client resolves and downloads hub files into a Cache. The zero value is not usable; build
// one with FromEnv or fill the fields.
type Client struct {
	Cache    Cache
	Endpoint string       // hub base URL, e.g. https://huggingface.co
	Token    string       // bearer token sent to Endpoint's host only; empty = anonymous
	Offline  bool         // never touch the network (HF_HUB_OFFLINE)
	HTTP     *http.Client // nil = http.DefaultClient's transport
	// Retries is how many times a broken transfer is resumed (Range) before giving up.
	Retries int
}

// FromEnv builds a Client the way huggingface_hub configures itself: cache from CacheDir,
// HF_ENDPOINT (default https://huggingface.co), HF_TOKEN else the token file
// ($HF_TOKEN_PATH, default $HF_HOME/token), HF_HUB_OFFLINE=1|ON|YES|TRUE.
func FromEnv() (*Client, error) {
	dir, err := CacheDir()
	if err != nil {
		return nil, err
	}
	c := &Client{Cache: Cache{Dir: dir}, Endpoint: DefaultEndpoint, Retries: 5}
	if e := os.Getenv("HF_ENDPOINT"); e != "" {
		c.Endpoint = strings.TrimRight(e, "/")
	}
	switch strings.ToUpper(os.Getenv("HF_HUB_OFFLINE")) {
	case "1", "ON", "YES", "TRUE":
		c.Offline = true
	}
	c.Token = os.Getenv("HF_TOKEN")
	if c.Token == "" {
		path := os.Getenv("HF_TOKEN_PATH")
		if path == "" {
			home, err := hfHome()
			if err != nil {
				return nil, err
			}
			path = filepath.Join(home, "token")
		}
		if b, err := os.ReadFile(path); err == nil {
			c.Token = strings.TrimSpace(string(b))
		}
	}
	return c, nil
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// Download returns the local path of file at revision, downloading it into the cache when
// needed, exactly as huggingface_hub's hf_hub_download lays it out: the blob under
// blobs/<etag>, a relative symlink snapshots/<commit>/<file> → ../../blobs/<etag>, and
// refs/<revision> holding the commit. A commit-hash revision already in the cache is served
// without a request; offline, or when the hub cannot be reached, the cache answers alone.
func (c *Client) Download(ctx context.Context, r Repo, revision, file string) (string, error) {
	if err := r.Validate(); err != nil {
		return "", err
	}
	if err := checkRevision(revision); err != nil {
		return "", err
	}
	if err := checkFile(file); err != nil {
		return "", err
	}
	if IsCommit(revision) || c.Offline {
		p, err := c.Cache.File(r, revision, file)
		if err == nil || c.Offline || errors.Is(err, ErrNotFound) {
			var he *Error
			if c.Offline && errors.As(err, &he) && he.Kind == ErrNotCached {
				he.Msg += " and HF_HUB_OFFLINE is set"
			}
			return p, err
		}
	}
	meta, err := c.metadata(ctx, r, revision, file)
	if err != nil {
		var he *Error
		if errors.As(err, &he) && he.Status != 0 {
			return "", err // the hub answered: do not mask its answer with the cache
		}
		// No answer (network down, endpoint unreachable): fall back to the cache.
		if p, cerr := c.Cache.File(r, revision, file); cerr == nil {
			return p, nil
		}
		return "", err
	}
	dir := c.Cache.repoDir(r)
	if revision != meta.commit {
		if err := writeRef(dir, revision, meta.commit); err != nil {
			return "", err
		}
	}
	pointer := filepath.Join(dir, "snapshots", meta.commit, filepath.FromSlash(file))
	if _, err := os.Stat(pointer); err == nil {
		return pointer, nil
	}
	blob := filepath.Join(dir, "blobs", meta.etag)
	if _, err := os.Stat(blob); err != nil {
		if err := c.fetchBlob(ctx, r, revision, file, meta, blob); err != nil {
			return "", err
		}
	}
	if err := linkPointer(blob, pointer); err != nil {
		return "", err
	}
	return pointer, nil
}

// Snapshot downloads (or finds) each of files and returns the snapshot folder holding them,
// the form a Hugging Face model directory takes in the cache.
func (c *Client) Snapshot(ctx context.Context, r Repo, revision string, files ...string) (string, error) {
	if len(files) == 0 {
		return "", errors.New("hfhub: Snapshot needs at least one file to resolve the revision")
	}
	var dir string
	for _, f := range files {
		p, err := c.Download(ctx, r, revision, f)
		if err != nil {
			return "", err
		}
		d := p
		for range strings.Split(f, "/") {
			d = filepath.Dir(d)
		}
		if dir != "" && d != dir { // the revision moved between two files
			return "", &Error{Repo: r, Revision: revision, File: f,
				Msg: fmt.Sprintf("revision moved during the download (%s, then %s)", filepath.Base(dir), filepath.Base(d))}
		}
		dir = d
	}
	return dir, nil
}

// ResolveModel returns a local model directory for path: path itself when it is an existing
// directory (transformers' from_pretrained rule), else the snapshot folder of the hub id path
// at revision holding files (downloaded when the client may).
func ResolveModel(ctx context.Context, c *Client, path, revision string, files ...string) (string, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return path, nil
	}
	r := Repo{ID: path}
	if err := r.Validate(); err != nil {
		return "", fmt.Errorf("hfhub: %q is neither a directory nor a hub id: %w", path, err)
	}
	return c.Snapshot(ctx, r, revision, files...)
}

// meta is what the hub says of a file (HEAD on its resolve URL).
type meta struct {
	commit   string // X-Repo-Commit
	etag     string // X-Linked-Etag (LFS: sha256 of the contents) or ETag (git blob id)
	size     int64  // X-Linked-Size or Content-Length; -1 unknown
	location string // where to GET the contents (the CDN for LFS files)
}

var (
	etagRe   = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)
	sha256Re = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

func (c *Client) resolveURL(r Repo, revision, file string) string {
	parts := strings.Split(file, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return fmt.Sprintf("%s/%s/resolve/%s/%s", strings.TrimRight(c.Endpoint, "/"), r.urlPrefix(),
		url.PathEscape(revision), strings.Join(parts, "/"))
}

// request builds a request with the token when u is on the hub's own host.
func (c *Client) request(ctx context.Context, method, u string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept-Encoding", "identity") // exact sizes, no transparent gzip
	req.Header.Set("User-Agent", "glmflow-hfhub")
	if c.Token != "" {
		if ep, err := url.Parse(c.Endpoint); err == nil && ep.Host == req.URL.Host {
			req.Header.Set("Authorization", "Bearer "+c.Token)
		}
	}
	return req, nil
}

// metadata sends HEAD to the resolve URL, following only same-host redirects (renamed repos),
// so that the hub's own headers are read and an LFS redirect's Location is kept.
func (c *Client) metadata(ctx context.Context, r Repo, revision, file string) (meta, error) {
	req, err := c.request(ctx, http.MethodHead, c.resolveURL(r, revision, file))
	if err != nil {
		return meta{}, err
	}
	hc := *c.httpClient()
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("too many redirects")
		}
		if req.URL.Host != via[0].URL.Host {
			return http.ErrUseLastResponse
		}
		return nil
	}
	resp, err := hc.Do(req)
	if err != nil {
		return meta{}, &Error{Repo: r, Revision: revision, File: file, Msg: "cannot reach " + c.Endpoint, Err: err}
	}
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		err := statusError(r, revision, file, resp)
		if errors.Is(err, ErrNotFound) && resp.Header.Get("X-Error-Code") == "EntryNotFound" {
			c.markNoExist(r, revision, file, resp.Header.Get("X-Repo-Commit"))
		}
		return meta{}, err
	}
	m := meta{
		commit:   resp.Header.Get("X-Repo-Commit"),
		etag:     normalizeEtag(resp.Header.Get("X-Linked-Etag")),
		size:     -1,
		location: resp.Request.URL.String(),
	}
	if m.etag == "" {
		m.etag = normalizeEtag(resp.Header.Get("ETag"))
	}
	sz := resp.Header.Get("X-Linked-Size")
	if sz == "" {
		sz = resp.Header.Get("Content-Length")
	}
	if sz != "" {
		n, err := strconv.ParseInt(sz, 10, 64)
		if err != nil || n < 0 {
			return meta{}, &Error{Repo: r, Revision: revision, File: file, Status: resp.StatusCode,
				Msg: fmt.Sprintf("bad size header %q", sz)}
		}
		m.size = n
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		u, err := resp.Request.URL.Parse(loc)
		if err != nil {
			return meta{}, &Error{Repo: r, Revision: revision, File: file, Status: resp.StatusCode,
				Msg: fmt.Sprintf("bad Location %q", loc), Err: err}
		}
		m.location = u.String()
	}
	switch {
	case !IsCommit(m.commit):
		return meta{}, &Error{Repo: r, Revision: revision, File: file, Status: resp.StatusCode,
			Msg: fmt.Sprintf("the server sent no commit hash (X-Repo-Commit %q): is %s a Hugging Face hub?", m.commit, c.Endpoint)}
	case !etagRe.MatchString(m.etag):
		return meta{}, &Error{Repo: r, Revision: revision, File: file, Status: resp.StatusCode,
			Msg: fmt.Sprintf("the server sent no usable ETag (%q)", m.etag)}
	}
	return m, nil
}

// normalizeEtag strips the weak prefix and quotes: W/"abc" → abc.
func normalizeEtag(e string) string {
	return strings.Trim(strings.TrimPrefix(strings.TrimSpace(e), "W/"), `"`)
}

// statusError turns a hub error response into an *Error naming the repository and file, using
// the hub's X-Error-Code / X-Error-Message headers when present.
func statusError(r Repo, revision, file string, resp *http.Response) error {
	e := &Error{Repo: r, Revision: revision, File: file, Status: resp.StatusCode}
	code, msg := resp.Header.Get("X-Error-Code"), resp.Header.Get("X-Error-Message")
	detail := ""
	if msg != "" {
		detail = " (" + msg + ")"
	}
	switch {
	case code == "GatedRepo":
		e.Kind, e.Msg = ErrUnauthorized, fmt.Sprintf("HTTP %d: the repository is gated: request access on its hub page and set HF_TOKEN%s", resp.StatusCode, detail)
	case code == "RepoNotFound" || resp.StatusCode == http.StatusUnauthorized:
		e.Kind, e.Msg = ErrUnauthorized, fmt.Sprintf("HTTP %d: repository not found, or private and HF_TOKEN is missing or lacks access%s", resp.StatusCode, detail)
		if resp.StatusCode == http.StatusNotFound {
			e.Kind = ErrNotFound
		}
	case resp.StatusCode == http.StatusForbidden:
		e.Kind, e.Msg = ErrUnauthorized, fmt.Sprintf("HTTP 403: access denied%s", detail)
	case code == "RevisionNotFound":
		e.Kind, e.Msg = ErrNotFound, fmt.Sprintf("HTTP %d: revision not found in the repository%s", resp.StatusCode, detail)
	case code == "EntryNotFound" || resp.StatusCode == http.StatusNotFound:
		e.Kind, e.Msg = ErrNotFound, fmt.Sprintf("HTTP %d: file not found in the repository%s", resp.StatusCode, detail)
	default:
		e.Msg = fmt.Sprintf("HTTP %d %s%s", resp.StatusCode, http.StatusText(resp.StatusCode), detail)
	}
	return e
}

// markNoExist records a missing file as huggingface_hub does: an empty
// .no_exist/<commit>/<file>, plus the ref. Failures only lose the cache entry.
func (c *Client) markNoExist(r Repo, revision, file, commit string) {
	if !IsCommit(commit) {
		return
	}
	dir := c.Cache.repoDir(r)
	p := filepath.Join(dir, ".no_exist", commit, filepath.FromSlash(file))
	if os.MkdirAll(filepath.Dir(p), 0o755) == nil {
		if f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			f.Close()
		}
	}
	if revision != commit {
		_ = writeRef(dir, revision, commit)
	}
}

// writeRef writes refs/<revision> = commit (no newline, as huggingface_hub), atomically,
// when it is missing or different.
func writeRef(dir, revision, commit string) error {
	p := filepath.Join(dir, "refs", filepath.FromSlash(revision))
	if b, err := os.ReadFile(p); err == nil && string(b) == commit {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return writeAtomic(p, []byte(commit))
}

func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(f.Name(), path)
	}
	if werr != nil {
		os.Remove(f.Name())
	}
	return werr
}

// linkPointer makes pointer a relative symlink to blob (../../blobs/<etag>, with one more
// ../ per folder level of the file), replacing any previous entry atomically. Where symlinks
// are not available the blob's contents are copied instead.
func linkPointer(blob, pointer string) error {
	if err := os.MkdirAll(filepath.Dir(pointer), 0o755); err != nil {
		return err
	}
	rel, err := filepath.Rel(filepath.Dir(pointer), blob)
	if err != nil {
		return err
	}
	// A unique temporary name: other goroutines and processes may link the same file.
	t, err := os.CreateTemp(filepath.Dir(pointer), ".tmp-link-*")
	if err != nil {
		return err
	}
	tmp := t.Name()
	t.Close()
	os.Remove(tmp)
	if err := os.Symlink(rel, tmp); err != nil {
		data, rerr := os.ReadFile(blob)
		if rerr != nil {
			return rerr
		}
		return writeAtomic(pointer, data)
	}
	if err := os.Rename(tmp, pointer); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// fetchBlob downloads the file's contents to blob: under the download lock, into
// blob.incomplete (resumed with Range when a previous attempt left one, or when the
// connection breaks), checked against the announced size and, for LFS files, the sha256
// ETag, then renamed into place. A file that fails the checks is deleted.
func (c *Client) fetchBlob(ctx context.Context, r Repo, revision, file string, m meta, blob string) (err error) {
	lockDir := filepath.Join(c.Cache.Dir, ".locks", r.folder())
	if err := os.MkdirAll(lockDir, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(blob), 0o755); err != nil {
		return err
	}
	unlock, err := lockFile(filepath.Join(lockDir, m.etag+".lock"))
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Stat(blob); err == nil {
		return nil // another process finished it while we waited for the lock
	}
	tmp := blob + ".incomplete"
	t := &transfer{hash: sha256.New()}
	if t.f, err = os.OpenFile(tmp, os.O_RDWR|os.O_CREATE, 0o644); err != nil {
		return err
	}
	defer func() {
		if cerr := t.f.Close(); err == nil && cerr != nil {
			err = cerr
		}
		var he *Error
		if errors.As(err, &he) {
			if he.Repo.ID == "" {
				he.Repo, he.Revision, he.File = r, revision, file
			}
			if errors.Is(he, ErrIntegrity) {
				os.Remove(tmp)
			}
		}
		if err == nil {
			err = os.Rename(tmp, blob)
		}
	}()
	if t.have, err = io.Copy(t.hash, t.f); err != nil { // the part a previous attempt left
		return err
	}
	if m.size >= 0 && t.have > m.size {
		if err := t.restart(); err != nil {
			return err
		}
	}
	for attempt := 0; m.size < 0 || t.have < m.size; attempt++ {
		err := c.get(ctx, m, t)
		if err == nil {
			break
		}
		var he *Error
		if errors.As(err, &he) || ctx.Err() != nil || attempt >= c.Retries {
			if he != nil {
				return err
			}
			return &Error{Repo: r, Revision: revision, File: file,
				Msg: fmt.Sprintf("download broken after %d bytes (%d resumes); run again to resume", t.have, attempt), Err: err}
		}
	}
	if err := t.f.Sync(); err != nil {
		return err
	}
	if m.size >= 0 && t.have != m.size {
		return &Error{Kind: ErrIntegrity, Msg: fmt.Sprintf("got %d bytes, the hub announced %d", t.have, m.size)}
	}
	if sha256Re.MatchString(m.etag) {
		if got := hex.EncodeToString(t.hash.Sum(nil)); got != m.etag {
			return &Error{Kind: ErrIntegrity, Msg: fmt.Sprintf("sha256 %s does not match the LFS ETag %s", got, m.etag)}
		}
	}
	return nil
}

// transfer is a download in progress: the .incomplete file, its length and running sha256.
type transfer struct {
	f    *os.File
	have int64
	hash hash.Hash
}

func (t *transfer) Write(p []byte) (int, error) {
	n, err := t.f.Write(p)
	t.hash.Write(p[:n])
	t.have += int64(n)
	return n, err
}

// restart empties the file (the server ignored Range, or the partial file is too long).
func (t *transfer) restart() error {
	if err := t.f.Truncate(0); err != nil {
		return err
	}
	if _, err := t.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	t.hash.Reset()
	t.have = 0
	return nil
}

// get GETs m.location from byte t.have on (Range) and appends the body to t. A returned
// *Error is final; other errors (a broken connection) may be resumed.
func (c *Client) get(ctx context.Context, m meta, t *transfer) error {
	req, err := c.request(ctx, http.MethodGet, m.location)
	if err != nil {
		return err
	}
	if t.have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", t.have))
	}
	resp, err := c.httpClient().Do(req) // follows redirects; Go drops Authorization off-host
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusPartialContent && t.have > 0:
		var start int64
		if _, serr := fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-", &start); serr != nil || start != t.have {
			return &Error{Status: resp.StatusCode, Msg: fmt.Sprintf("asked for bytes %d-, got Content-Range %q", t.have, resp.Header.Get("Content-Range"))}
		}
	case resp.StatusCode == http.StatusOK:
		if t.have > 0 { // the server ignored Range: start over
			if err := t.restart(); err != nil {
				return err
			}
		}
	default:
		return &Error{Status: resp.StatusCode, Msg: fmt.Sprintf("GET %s: HTTP %d %s", redact(m.location), resp.StatusCode, http.StatusText(resp.StatusCode))}
	}
	if _, err := t.f.Seek(t.have, io.SeekStart); err != nil {
		return err
	}
	body := io.Reader(resp.Body)
	if m.size >= 0 {
		body = io.LimitReader(resp.Body, m.size-t.have+1) // one byte over = too long
	}
	_, err = io.Copy(t, body)
	if m.size >= 0 && t.have > m.size {
		return &Error{Kind: ErrIntegrity, Msg: fmt.Sprintf("the server sent more than the %d bytes announced", m.size)}
	}
	if err == nil && m.size >= 0 && t.have < m.size {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// redact drops the query (signed CDN URLs carry credentials there) from a URL for messages.
func redact(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}
