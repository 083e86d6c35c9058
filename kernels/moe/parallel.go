package moe

import "github.com/glmflow/glmflow/kernels/internal/parallel"

// minParallelWork is the approximate amount of work (flops or bytes) below which a kernel runs
// inline: spawning goroutines costs a few microseconds. Tests lower it to force threading.
var minParallelWork = 1 << 17

// parallelFor runs fn(i) for every i in [0, n), on parallel.Workers() goroutines when work is
// large. Tasks write disjoint outputs, so the task-to-goroutine assignment changes nothing.
func parallelFor(n int, work int, fn func(i int)) { parallel.For(n, work, minParallelWork, fn) }

// tiles returns how many tiles of size ts cover n.
func tiles(n, ts int) int { return (n + ts - 1) / ts }
