//go:build !linux

package imageproc

import "time"

var processStart = time.Now()

// threadCPU falls back to wall time where per-thread CPU time is not available.
func threadCPU() time.Duration { return time.Since(processStart) }
