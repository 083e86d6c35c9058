//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package safetensors

import (
	"errors"
	"os"
)

var forceReadAt bool

func mmapFile(*os.File, int64) ([]byte, error) { return nil, errors.New("mmap not supported here") }

func munmap([]byte) error { return nil }
