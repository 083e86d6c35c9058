package hfhub

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeHub imitates the hub's resolve endpoint and a CDN on two local servers (two hosts, so
// that the token must not follow the redirect). It never reaches the real hub.
type fakeHub struct {
	t        *testing.T
	hub, cdn *httptest.Server
	repo     string
	commit   string
	files    map[string]fakeFile
	token    string // when set, requests without it get 401 (a private repo)

	mu          sync.Mutex
	reqs        []string // "HUB HEAD /path auth=…" / "CDN GET /path range=… auth=…"
	cutOnce     int      // CDN: the first GET sends only this many bytes, then drops (0 = off)
	corrupt     bool     // CDN: flip one byte
	ignoreRange bool     // CDN: answer 200 with the whole file to ranged requests
	extra       int      // CDN: send this many bytes more than announced
}

type fakeFile struct {
	data []byte
	lfs  bool
}

func (f fakeFile) sha256() string { s := sha256.Sum256(f.data); return hex.EncodeToString(s[:]) }

// gitBlobID is git's object id of the contents: the hub's ETag for a non-LFS file.
func (f fakeFile) gitBlobID() string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(f.data))
	h.Write(f.data)
	return hex.EncodeToString(h.Sum(nil))
}

func newFakeHub(t *testing.T) *fakeHub {
	h := &fakeHub{t: t, repo: "zai-org/GLM-4.5V", commit: strings.Repeat("ab12", 10), files: map[string]fakeFile{
		"config.json":                   {data: []byte(`{"model_type": "glm4v_moe"}`)},
		"model.safetensors":             {data: payload(100_000), lfs: true},
		"sub/dir/tokenizer_config.json": {data: []byte(`{"x": 1}`)},
	}}
	h.hub = httptest.NewServer(http.HandlerFunc(h.serveHub))
	h.cdn = httptest.NewServer(http.HandlerFunc(h.serveCDN))
	t.Cleanup(func() { h.hub.Close(); h.cdn.Close() })
	return h
}

func payload(n int) []byte {
	b := make([]byte, n)
	x := uint32(12345)
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

func (h *fakeHub) log(s string) { h.mu.Lock(); h.reqs = append(h.reqs, s); h.mu.Unlock() }

func (h *fakeHub) requests() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.reqs...)
}

func (h *fakeHub) serveHub(w http.ResponseWriter, r *http.Request) {
	h.log(fmt.Sprintf("HUB %s %s auth=%s", r.Method, r.URL.Path, r.Header.Get("Authorization")))
	rest, ok := strings.CutPrefix(r.URL.Path, "/"+h.repo+"/resolve/")
	if h.token != "" && r.Header.Get("Authorization") != "Bearer "+h.token || !ok {
		w.Header().Set("X-Error-Code", "RepoNotFound")
		w.Header().Set("X-Error-Message", "Repository not found")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	rev, file, _ := strings.Cut(rest, "/")
	if rev != "main" && rev != h.commit {
		w.Header().Set("X-Error-Code", "RevisionNotFound")
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.Header().Set("X-Repo-Commit", h.commit)
	f, ok := h.files[file]
	if !ok {
		w.Header().Set("X-Error-Code", "EntryNotFound")
		w.Header().Set("X-Error-Message", "Entry not found")
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if f.lfs {
		w.Header().Set("ETag", `"`+fakeFile{data: []byte("pointer")}.gitBlobID()+`"`)
		w.Header().Set("X-Linked-Etag", `"`+f.sha256()+`"`)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(f.data)))
		w.Header().Set("Location", h.cdn.URL+"/blobs/"+f.sha256()+"?X-Amz-Signature=secret")
		w.WriteHeader(http.StatusFound)
		return
	}
	w.Header().Set("ETag", `W/"`+f.gitBlobID()+`"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(f.data)))
	if r.Method == http.MethodGet {
		w.Write(f.data)
	}
}

func (h *fakeHub) serveCDN(w http.ResponseWriter, r *http.Request) {
	h.log(fmt.Sprintf("CDN %s %s range=%s auth=%s", r.Method, r.URL.Path, r.Header.Get("Range"), r.Header.Get("Authorization")))
	var f fakeFile
	for _, c := range h.files {
		if c.lfs && r.URL.Path == "/blobs/"+c.sha256() {
			f = c
		}
	}
	if f.data == nil {
		http.NotFound(w, r)
		return
	}
	data := append([]byte(nil), f.data...)
	if h.corrupt {
		data[len(data)/2] ^= 1
	}
	data = append(data, make([]byte, h.extra)...)
	start := 0
	if rg := r.Header.Get("Range"); rg != "" && !h.ignoreRange {
		if _, err := fmt.Sscanf(rg, "bytes=%d-", &start); err != nil || start >= len(data) {
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, len(data)-1, len(data)))
	}
	h.mu.Lock()
	cut := h.cutOnce
	h.cutOnce = 0
	h.mu.Unlock()
	if cut > 0 { // announce everything, send a part, drop the connection
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			h.t.Error(err)
			return
		}
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(data))
		buf.Write(data[:cut])
		buf.Flush()
		conn.Close()
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(data)-start))
	if start > 0 {
		w.WriteHeader(http.StatusPartialContent)
	}
	w.Write(data[start:])
}

func (h *fakeHub) client(t *testing.T) *Client {
	return &Client{Cache: Cache{Dir: t.TempDir()}, Endpoint: h.hub.URL, Token: "tok", Retries: 3}
}

var model = Repo{ID: "zai-org/GLM-4.5V"}

func TestDownloadLayout(t *testing.T) {
	h := newFakeHub(t)
	c := h.client(t)
	ctx := context.Background()
	for _, file := range []string{"config.json", "model.safetensors", "sub/dir/tokenizer_config.json"} {
		f := h.files[file]
		p, err := c.Download(ctx, model, "main", file)
		if err != nil {
			t.Fatal(err)
		}
		repoDir := filepath.Join(c.Cache.Dir, "models--zai-org--GLM-4.5V")
		if want := filepath.Join(repoDir, "snapshots", h.commit, filepath.FromSlash(file)); p != want {
			t.Errorf("path %s, want %s", p, want)
		}
		etag := f.gitBlobID()
		if f.lfs {
			etag = f.sha256()
		}
		target, err := os.Readlink(p)
		if err != nil {
			t.Fatal(err)
		}
		up := strings.Repeat("../", 2+strings.Count(file, "/"))
		if want := up + "blobs/" + etag; target != filepath.FromSlash(want) {
			t.Errorf("%s links to %s, want %s", file, target, want)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != string(f.data) {
			t.Errorf("%s: contents differ (%v)", file, err)
		}
		ref, err := os.ReadFile(filepath.Join(repoDir, "refs", "main"))
		if err != nil || string(ref) != h.commit {
			t.Errorf("refs/main = %q (%v), want %q", ref, err, h.commit)
		}
		if _, err := os.Stat(filepath.Join(repoDir, "blobs", etag+".incomplete")); !os.IsNotExist(err) {
			t.Errorf("%s: .incomplete left behind", file)
		}
	}
	// The token went to the hub, never to the CDN (the signed URL is enough).
	for _, r := range h.requests() {
		if strings.HasPrefix(r, "HUB") && !strings.HasSuffix(r, "auth=Bearer tok") ||
			strings.HasPrefix(r, "CDN") && !strings.HasSuffix(r, "auth=") {
			t.Errorf("request %s", r)
		}
	}

	// Cached: a commit revision needs no request at all; "main" asks the hub (HEAD) only.
	n := len(h.requests())
	if _, err := c.Download(ctx, model, h.commit, "model.safetensors"); err != nil {
		t.Fatal(err)
	}
	if got := h.requests()[n:]; len(got) != 0 {
		t.Errorf("commit revision in cache made requests %q", got)
	}
	if _, err := c.Download(ctx, model, "main", "model.safetensors"); err != nil {
		t.Fatal(err)
	}
	if got := h.requests()[n:]; len(got) != 1 || !strings.HasPrefix(got[0], "HUB HEAD") {
		t.Errorf("cached main made requests %q", got)
	}

	// The hub unreachable: the cache answers for main through refs/main.
	h.hub.Close()
	if p, err := c.Download(ctx, model, "main", "config.json"); err != nil || !strings.Contains(p, h.commit) {
		t.Errorf("hub down, cached file: %s, %v", p, err)
	}
	if _, err := c.Download(ctx, model, "main", "missing.json"); err == nil || !strings.Contains(err.Error(), "cannot reach") {
		t.Errorf("hub down, uncached file: %v", err)
	}
}

func TestResumeAfterCutConnection(t *testing.T) {
	h := newFakeHub(t)
	c := h.client(t)
	h.cutOnce = 30_000
	p, err := c.Download(context.Background(), model, "main", "model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); string(got) != string(h.files["model.safetensors"].data) {
		t.Fatal("resumed file differs")
	}
	var ranges []string
	for _, r := range h.requests() {
		if strings.HasPrefix(r, "CDN GET") {
			ranges = append(ranges, strings.Fields(r)[3])
		}
	}
	if want := []string{"range=", "range=bytes=30000-"}; fmt.Sprint(ranges) != fmt.Sprint(want) {
		t.Errorf("CDN requests %q, want %q", ranges, want)
	}
}

func TestResumeFromPreviousRun(t *testing.T) {
	h := newFakeHub(t)
	c := h.client(t)
	f := h.files["model.safetensors"]
	blobs := filepath.Join(c.Cache.Dir, "models--zai-org--GLM-4.5V", "blobs")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(blobs, f.sha256()+".incomplete"), f.data[:70_000], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, ignore := range []bool{false, true} {
		h.ignoreRange = ignore
		p, err := c.Download(context.Background(), model, "main", "model.safetensors")
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(p); string(got) != string(f.data) {
			t.Fatalf("ignoreRange %v: file differs", ignore)
		}
		if !ignore {
			reqs := h.requests()
			if last := reqs[len(reqs)-1]; !strings.Contains(last, "range=bytes=70000-") {
				t.Errorf("resume request %s", last)
			}
			// Start again from a stale partial file the server will not range.
			os.RemoveAll(filepath.Join(c.Cache.Dir, "models--zai-org--GLM-4.5V"))
			os.MkdirAll(blobs, 0o755)
			os.WriteFile(filepath.Join(blobs, f.sha256()+".incomplete"), f.data[:500], 0o644)
		}
	}
}

func TestIntegrityFailures(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*fakeHub)
		want string
	}{
		{"wrong sha256", func(h *fakeHub) { h.corrupt = true }, "does not match the LFS ETag"},
		{"too long", func(h *fakeHub) { h.extra = 10 }, "more than the 100000 bytes announced"},
	} {
		h := newFakeHub(t)
		c := h.client(t)
		tc.set(h)
		_, err := c.Download(context.Background(), model, "main", "model.safetensors")
		if !errors.Is(err, ErrIntegrity) || !strings.Contains(err.Error(), tc.want) ||
			!strings.Contains(err.Error(), "zai-org/GLM-4.5V: file model.safetensors (revision main)") {
			t.Errorf("%s: %v", tc.name, err)
		}
		// Nothing usable is left: no blob, no partial file, no snapshot entry.
		repoDir := filepath.Join(c.Cache.Dir, "models--zai-org--GLM-4.5V")
		entries, _ := os.ReadDir(filepath.Join(repoDir, "blobs"))
		if len(entries) != 0 {
			t.Errorf("%s: blobs left: %v", tc.name, entries)
		}
		if _, err := os.Lstat(filepath.Join(repoDir, "snapshots", h.commit, "model.safetensors")); !os.IsNotExist(err) {
			t.Errorf("%s: snapshot entry exists", tc.name)
		}
	}
}

func TestHubErrors(t *testing.T) {
	h := newFakeHub(t)
	h.token = "right"
	c := h.client(t)
	ctx := context.Background()

	_, err := c.Download(ctx, model, "main", "config.json") // token "tok" is wrong
	if !errors.Is(err, ErrUnauthorized) || err.Error() != "hfhub: zai-org/GLM-4.5V: file config.json (revision main): "+
		"HTTP 401: repository not found, or private and HF_TOKEN is missing or lacks access (Repository not found)" {
		t.Errorf("401: %v", err)
	}
	c.Token = "right"
	_, err = c.Download(ctx, model, "main", "nope.json")
	if !errors.Is(err, ErrNotFound) || err.Error() != "hfhub: zai-org/GLM-4.5V: file nope.json (revision main): "+
		"HTTP 404: file not found in the repository (Entry not found)" {
		t.Errorf("404: %v", err)
	}
	// Recorded in .no_exist: the cache alone now knows the file does not exist.
	c.Offline = true
	if _, err := c.Download(ctx, model, "main", "nope.json"); !errors.Is(err, ErrNotFound) {
		t.Errorf("offline after 404: %v", err)
	}
	c.Offline = false
	_, err = c.Download(ctx, model, "v9", "config.json")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "(revision v9): HTTP 404: revision not found") {
		t.Errorf("bad revision: %v", err)
	}
	_, err = c.Download(ctx, Repo{ID: "zai-org/other"}, "main", "config.json")
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "zai-org/other: file config.json") {
		t.Errorf("other repo: %v", err)
	}
}

func TestOffline(t *testing.T) {
	h := newFakeHub(t)
	dir := t.TempDir()
	t.Setenv("HF_HUB_CACHE", dir)
	t.Setenv("HF_ENDPOINT", h.hub.URL)
	t.Setenv("HF_TOKEN", "tok")
	t.Setenv("HF_HUB_OFFLINE", "1")
	c, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if !c.Offline || c.Endpoint != h.hub.URL || c.Token != "tok" || c.Cache.Dir != dir {
		t.Fatalf("FromEnv: %+v", c)
	}
	_, err = c.Download(context.Background(), model, "main", "config.json")
	if !errors.Is(err, ErrNotCached) || !strings.Contains(err.Error(), "zai-org/GLM-4.5V: file config.json (revision main)") ||
		!strings.Contains(err.Error(), "HF_HUB_OFFLINE") {
		t.Errorf("offline, not cached: %v", err)
	}
	// Fill the cache online, then offline finds it: by ref and by commit.
	c.Offline = false
	if _, err := c.Snapshot(context.Background(), model, "main", "config.json", "model.safetensors"); err != nil {
		t.Fatal(err)
	}
	c.Offline = true
	n := len(h.requests())
	for _, rev := range []string{"main", h.commit} {
		dir, err := ResolveModel(context.Background(), c, "zai-org/GLM-4.5V", rev, "config.json", "model.safetensors")
		if err != nil || filepath.Base(dir) != h.commit {
			t.Errorf("offline snapshot %s: %s, %v", rev, dir, err)
		}
	}
	if got := h.requests()[n:]; len(got) != 0 {
		t.Errorf("offline mode made requests: %q", got)
	}
	// A local directory wins over the hub id rule.
	local := t.TempDir()
	if got, err := ResolveModel(context.Background(), c, local, "main", "config.json"); err != nil || got != local {
		t.Errorf("local dir: %s, %v", got, err)
	}
	if _, err := ResolveModel(context.Background(), c, "no/such/dir", "main"); err == nil ||
		!strings.Contains(err.Error(), "neither a directory nor a hub id") {
		t.Errorf("bad path: %v", err)
	}
}

func TestConcurrentDownloadsShareOneBlob(t *testing.T) {
	h := newFakeHub(t)
	c := h.client(t)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.Download(context.Background(), model, "main", "model.safetensors")
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	gets := 0
	for _, r := range h.requests() {
		if strings.HasPrefix(r, "CDN GET") {
			gets++
		}
	}
	if gets != 1 {
		t.Errorf("%d CDN downloads, want 1 (the lock lets one through, the rest find the blob)", gets)
	}
}

func TestCacheDirEnv(t *testing.T) {
	home, _ := os.UserHomeDir()
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"HF_HUB_CACHE": "/a", "HUGGINGFACE_HUB_CACHE": "/b", "HF_HOME": "/c"}, "/a"},
		{map[string]string{"HUGGINGFACE_HUB_CACHE": "/b", "HF_HOME": "/c"}, "/b"},
		{map[string]string{"HF_HOME": "/c", "XDG_CACHE_HOME": "/x"}, "/c/hub"},
		{map[string]string{"XDG_CACHE_HOME": "/x"}, "/x/huggingface/hub"},
		{map[string]string{}, filepath.Join(home, ".cache/huggingface/hub")},
		{map[string]string{"HF_HOME": "~/hf"}, filepath.Join(home, "hf/hub")},
	} {
		for _, k := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"} {
			t.Setenv(k, tc.env[k])
		}
		if got, err := CacheDir(); err != nil || got != filepath.FromSlash(tc.want) {
			t.Errorf("%v: %s, %v; want %s", tc.env, got, err, tc.want)
		}
	}
}

func TestValidation(t *testing.T) {
	for _, id := range []string{"zai-org/GLM-4.5V", "gpt2", "a_b/c.d-e"} {
		if !IsRepoID(id) {
			t.Errorf("%q rejected", id)
		}
	}
	for _, id := range []string{"", "a/b/c", "a--b/c", "a/b..c", "-a/b", "a/b.", "a/b.git", "a b/c", "/a", strings.Repeat("a", 97), "testdata/../x"} {
		if IsRepoID(id) {
			t.Errorf("%q accepted", id)
		}
	}
	c := &Client{Cache: Cache{Dir: t.TempDir()}, Endpoint: "http://127.0.0.1:1", Offline: true}
	for _, tc := range []struct{ rev, file string }{
		{"main", "../x"}, {"main", "/etc/passwd"}, {"main", "a//b"}, {"main", `a\b`}, {"main", ""},
		{"../../x", "config.json"}, {"refs/../x", "config.json"}, {"", "config.json"},
	} {
		if _, err := c.Download(context.Background(), model, tc.rev, tc.file); err == nil || errors.Is(err, ErrNotCached) {
			t.Errorf("rev %q file %q: %v", tc.rev, tc.file, err)
		}
	}
}

// A server that is not a hub (no X-Repo-Commit) or sends a hostile ETag is refused.
func TestBadServerHeaders(t *testing.T) {
	for _, tc := range []struct {
		headers map[string]string
		want    string
	}{
		{map[string]string{"ETag": `"abc"`}, "sent no commit hash"},
		{map[string]string{"X-Repo-Commit": strings.Repeat("a", 40), "ETag": `"../../evil"`}, "no usable ETag"},
		{map[string]string{"X-Repo-Commit": strings.Repeat("a", 40), "ETag": `"abc"`, "X-Linked-Size": "-5"}, "bad size header"},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for k, v := range tc.headers {
				w.Header().Set(k, v)
			}
		}))
		c := &Client{Cache: Cache{Dir: t.TempDir()}, Endpoint: srv.URL}
		_, err := c.Download(context.Background(), model, "main", "config.json")
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "file config.json") {
			t.Errorf("%v: %v", tc.headers, err)
		}
		srv.Close()
	}
}

func TestDatasetRepo(t *testing.T) {
	var path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.EscapedPath()
		w.Header().Set("X-Repo-Commit", strings.Repeat("c", 40))
		w.Header().Set("ETag", `"e1"`)
		w.Header().Set("Content-Length", "2")
		if r.Method == http.MethodGet {
			w.Write([]byte("ok"))
		}
	}))
	defer srv.Close()
	c := &Client{Cache: Cache{Dir: t.TempDir()}, Endpoint: srv.URL}
	p, err := c.Download(context.Background(), Repo{Type: Dataset, ID: "naver-clova-ix/cord-v2"}, "refs/convert/parquet", "data/train-0.parquet")
	if err != nil {
		t.Fatal(err)
	}
	if want := "/datasets/naver-clova-ix/cord-v2/resolve/refs%2Fconvert%2Fparquet/data/train-0.parquet"; path != want {
		t.Errorf("URL path %s, want %s", path, want)
	}
	ref := filepath.Join(c.Cache.Dir, "datasets--naver-clova-ix--cord-v2", "refs", "refs", "convert", "parquet")
	if b, err := os.ReadFile(ref); err != nil || string(b) != strings.Repeat("c", 40) {
		t.Errorf("ref %s: %q %v", ref, b, err)
	}
	if b, _ := os.ReadFile(p); string(b) != "ok" {
		t.Errorf("contents %q", b)
	}
}
