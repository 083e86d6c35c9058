//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package safetensors

import (
	"errors"
	"math"
	"os"

	"golang.org/x/sys/unix"
)

// forceReadAt makes mmapFile fail, so tests can exercise the ReadAt fallback.
var forceReadAt bool

func mmapFile(f *os.File, size int64) ([]byte, error) {
	if forceReadAt {
		return nil, errors.New("mmap disabled")
	}
	if size <= 0 || size > math.MaxInt {
		return nil, errors.New("file size not mappable")
	}
	return unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
}

func munmap(b []byte) error { return unix.Munmap(b) }
