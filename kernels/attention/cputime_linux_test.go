package attention

import (
	"math"
	"syscall"
)

// threadCPU is the calling OS thread's CPU time in seconds. On the shared 2-vCPU machine wall
// time includes time the thread sat descheduled; FLOPs per CPU-second does not.
func threadCPU() float64 {
	const rusageThread = 1 // RUSAGE_THREAD
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return math.NaN()
	}
	return float64(syscall.TimevalToNsec(ru.Utime)+syscall.TimevalToNsec(ru.Stime)) / 1e9
}
