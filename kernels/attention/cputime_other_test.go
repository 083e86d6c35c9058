//go:build !linux

package attention

import "math"

// threadCPU is not measured outside Linux (the CPU-time metric reads NaN).
func threadCPU() float64 { return math.NaN() }
