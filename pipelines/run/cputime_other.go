//go:build !linux

package run

import "time"

// threadCPU is unavailable here.
func threadCPU() time.Duration { return -1 }
