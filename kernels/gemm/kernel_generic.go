package gemm

// The portable microkernel: the same contract as the assembly kernels (see gen_kernels.go),
// written in plain Go. It is the only path on non-amd64 machines and the reference path the
// tests compare the assembly against.

const (
	genericMR = 4  // register tile rows
	genericNR = 16 // register tile columns (packed B panel width)
)

// genericTile computes C[0:mr, 0:nc] from an A panel (row-major with stride aStride, or
// k-major with stride genericMR) and a B panel of kc rows of genericNR floats.
func genericTile(kMajor bool, mr, nc, kc int, a, b, c []float32, ldc int, alpha, beta float32, load bool) {
	var acc [genericMR][genericNR]float32
	for r := 0; r < mr; r++ {
		row := &acc[r]
		for p := 0; p < kc; p++ {
			var x float32
			if kMajor {
				x = a[p*genericMR+r]
			} else {
				x = a[r*aStride+p]
			}
			bp := (*[genericNR]float32)(b[p*genericNR:])
			for j := range row {
				row[j] += x * bp[j]
			}
		}
	}
	for r := 0; r < mr; r++ {
		cr := c[r*ldc : r*ldc+nc]
		for j := range cr {
			v := alpha * acc[r][j]
			if load {
				v += beta * cr[j]
			}
			cr[j] = v
		}
	}
}
