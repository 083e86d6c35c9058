//go:build !unix

package hfhub

import "sync"

// Without flock, downloads are serialized within this process only (per lock path).
var (
	locksMu sync.Mutex
	locks   = map[string]*sync.Mutex{}
)

func lockFile(path string) (unlock func(), err error) {
	locksMu.Lock()
	m := locks[path]
	if m == nil {
		m = &sync.Mutex{}
		locks[path] = m
	}
	locksMu.Unlock()
	m.Lock()
	return m.Unlock, nil
}
