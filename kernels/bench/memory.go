package bench

// copyBandwidth measures the machine's memory bandwidth the way the memory-bound kernels use it:
// a copy of n float32 between two buffers far larger than the caches, counted as read + write
// bytes per second. It is the baseline for every GB/s row.
func copyBandwidth(c *Config) float64 {
	n := 16 << 20 // 64 MiB per buffer
	if c.Quick {
		n = 4 << 20
	}
	src := make([]float32, n)
	dst := make([]float32, n)
	for i := range src {
		src[i] = float32(i)
	}
	return rate(c, 8*float64(n), func() { copy(dst, src) }) / 1e9
}

func init() {
	register("memory", func(c *Config, emit func(Row)) error {
		emit(Row{Name: "copy 64 MiB (read+write)", Unit: "GB/s", Value: copyBandwidth(c)})
		return nil
	})
}
