//go:build !unix

package glm4v

// cpuSeconds is not measured here (the tokens/cpu-s metric is left out).
func cpuSeconds() float64 { return 0 }
