// Package hfhub finds Hugging Face hub repositories in the local HF cache and downloads
// missing files into it, with huggingface_hub's exact layout and environment, so that glmflow
// and Python tools share one cache.
//
// Cache (Cache, CacheDir): $HF_HUB_CACHE, else $HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub
// (HF_HOME defaults to $XDG_CACHE_HOME/huggingface, i.e. ~/.cache/huggingface):
//
//	models--org--name/refs/<revision>           commit hash (no newline); revision may hold '/'
//	models--org--name/snapshots/<commit>/<file> relative symlink → ../../blobs/<etag>
//	models--org--name/blobs/<etag>              contents; etag = sha256 for LFS, git blob id else
//	models--org--name/blobs/<etag>.incomplete   a download in progress (resumed with Range)
//	models--org--name/.no_exist/<commit>/<file> empty: the hub said the file does not exist
//	.locks/models--org--name/<etag>.lock        flock held while downloading that blob
//
// Datasets and spaces use datasets--/spaces-- folders.
//
// Download (Client.Download, Client.Snapshot, ResolveModel), as hf_hub_download:
//  1. A commit-hash revision whose file is in the cache is returned without a request.
//  2. HEAD {HF_ENDPOINT}/{repo}/resolve/{revision}/{file} with "Authorization: Bearer
//     $HF_TOKEN", following same-host redirects only, gives X-Repo-Commit, X-Linked-Etag
//     (LFS: the sha256) or ETag, X-Linked-Size or Content-Length, and Location (the CDN).
//     401/403/404 become *Error values naming repo, revision and file (ErrUnauthorized,
//     ErrNotFound; a missing file is recorded under .no_exist).
//  3. refs/<revision> is written; if the blob exists only the symlink is made.
//  4. Under the lock, GET Location (redirects followed; the token goes to the hub's host only)
//     streams into blobs/<etag>.incomplete, resuming with "Range: bytes=N-" after a broken
//     connection (Client.Retries times) or a previous run; the size and, for LFS, the sha256
//     are checked (a mismatch deletes the file: ErrIntegrity); then an atomic rename and the
//     snapshot symlink.
//
// Offline (HF_HUB_OFFLINE=1, Client.Offline) never touches the network: the cache answers or
// the error says ErrNotCached. When the hub cannot be reached, the cache answers too.
//
// Non-goals: uploads, listing repository files (callers name the files they need), Xet
// storage, and hf_transfer-style parallel chunks.
package hfhub
