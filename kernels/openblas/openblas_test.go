package openblas

import (
	"math"
	"testing"
)

// TestSgemmBinding checks the purego binding (argument order, float passing in registers,
// transposes) against a direct triple loop on a small non-square problem.
func TestSgemmBinding(t *testing.T) {
	l, err := Load()
	if err != nil {
		t.Skipf("OpenBLAS not installed: %v", err)
	}
	l.SetThreads(1)
	const m, n, k = 3, 5, 4
	a := make([]float32, m*k)
	b := make([]float32, k*n)
	for i := range a {
		a[i] = float32(i%7) - 2.5
	}
	for i := range b {
		b[i] = float32(i%5)*0.5 - 1
	}
	for _, tc := range []struct{ ta, tb bool }{{false, false}, {false, true}, {true, false}, {true, true}} {
		at, lda := a, k
		if tc.ta { // store Aᵀ [k, m]
			at, lda = make([]float32, k*m), m
			for i := 0; i < m; i++ {
				for p := 0; p < k; p++ {
					at[p*m+i] = a[i*k+p]
				}
			}
		}
		bt, ldb := b, n
		if tc.tb { // store Bᵀ [n, k]
			bt, ldb = make([]float32, n*k), k
			for p := 0; p < k; p++ {
				for j := 0; j < n; j++ {
					bt[j*k+p] = b[p*n+j]
				}
			}
		}
		c := make([]float32, m*n)
		for i := range c {
			c[i] = 1
		}
		l.Sgemm(tc.ta, tc.tb, m, n, k, 2, at, lda, bt, ldb, 0.5, c, n)
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				want := 0.5
				for p := 0; p < k; p++ {
					want += 2 * float64(a[i*k+p]) * float64(b[p*n+j])
				}
				if math.Abs(float64(c[i*n+j])-want) > 1e-4 {
					t.Fatalf("ta=%v tb=%v: C[%d,%d] = %v, want %v", tc.ta, tc.tb, i, j, c[i*n+j], want)
				}
			}
		}
	}
}
