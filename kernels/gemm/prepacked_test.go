package gemm

import (
	"math"
	"testing"
)

// TestSgemmPackedB checks SgemmPackedB bit for bit against SgemmSerial on every path: A read
// in place (lda == PackedLD) and packed (other lda, k > PackedMaxK), both B layouts, tile
// edges, beta 0 (with NaN in C) and 1, and a PackedB reused for a smaller matrix.
func TestSgemmPackedB(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		r := rng(7)
		var pb PackedB
		shapes := [][3]int{{1, 1, 1}, {5, 17, 3}, {6, 64, 32}, {7, 65, 33}, {13, 130, 64},
			{128, 256, 32}, {128, 32, 256}, {37, 100, 128}, {11, 23, 600}, {3, 9, 1100}}
		for _, sh := range shapes {
			m, n, k := sh[0], sh[1], sh[2]
			for _, tb := range []bool{false, true} {
				for _, lda := range []int{k, k + 3, PackedLD} {
					if lda < k {
						continue
					}
					for _, beta := range []float32{0, 1} {
						a := randMat(r, m, k, lda)
						ldb := n
						b := randMat(r, k, n, n)
						if tb {
							ldb = k + 1
							b = randMat(r, n, k, ldb)
						}
						ldc := n + 2
						c0 := randMat(r, m, n, ldc)
						want := append([]float32(nil), c0...)
						got := append([]float32(nil), c0...)
						if beta == 0 {
							for i := range got {
								got[i] = float32(math.NaN())
							}
						}
						SgemmSerial(false, tb, m, n, k, 0.75, a, lda, b, ldb, beta, want, ldc)
						pb.Pack(tb, k, n, b, ldb)
						SgemmPackedB(m, n, k, 0.75, a, lda, &pb, beta, got, ldc)
						checkPacked(t, m, n, k, tb, lda, beta, want, got, ldc)
						// The leading block of a larger packed B.
						if k <= PackedMaxK {
							kp, np := k+5, n+9
							big := randMat(r, kp, np, np)
							if tb {
								big = randMat(r, np, kp, kp)
								for i := range n {
									copy(big[i*kp:i*kp+k], b[i*ldb:])
								}
								pb.Pack(true, kp, np, big, kp)
							} else {
								for i := range k {
									copy(big[i*np:i*np+n], b[i*ldb:])
								}
								pb.Pack(false, kp, np, big, np)
							}
							got = append(got[:0], c0...)
							SgemmPackedB(m, n, k, 0.75, a, lda, &pb, beta, got, ldc)
							checkPacked(t, m, n, k, tb, lda, beta, want, got, ldc)
						}
						checkPacked(t, m, n, k, tb, lda, beta, want, got, ldc)
					}
				}
			}
		}
	})
}

func checkPacked(t *testing.T, m, n, k int, tb bool, lda int, beta float32, want, got []float32, ldc int) {
	t.Helper()
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			w, g := want[i*ldc+j], got[i*ldc+j]
			if math.Float32bits(w) != math.Float32bits(g) {
				t.Fatalf("m=%d n=%d k=%d transB=%v lda=%d beta=%g: C[%d,%d] = %g, want %g", m, n, k, tb, lda, beta, i, j, g, w)
			}
		}
	}
}

func TestSgemmPackedBDegenerate(t *testing.T) {
	var pb PackedB
	pb.Pack(false, 0, 3, nil, 3)
	c := []float32{1, 2, 3}
	SgemmPackedB(1, 3, 0, 1, nil, 1, &pb, 2, c, 3)
	if c[0] != 2 || c[1] != 4 || c[2] != 6 {
		t.Fatalf("k=0: C = %v, want beta·C", c)
	}
	pb.Pack(false, 2, 3, []float32{1, 2, 3, 4, 5, 6}, 3)
	for name, f := range map[string]func(){
		"k too large": func() { SgemmPackedB(1, 3, 3, 1, make([]float32, 3), 3, &pb, 0, c, 3) },
		"n too large": func() { SgemmPackedB(1, 4, 2, 1, make([]float32, 3), 3, &pb, 0, make([]float32, 4), 4) },
		"short a":     func() { SgemmPackedB(2, 3, 2, 1, make([]float32, 3), 2, &pb, 0, make([]float32, 6), 3) },
		"short c":     func() { SgemmPackedB(2, 3, 2, 1, make([]float32, 4), 2, &pb, 0, make([]float32, 5), 3) },
		"unpacked":    func() { SgemmPackedB(1, 1, 1, 1, []float32{1}, 1, new(PackedB), 0, c, 1) },
		"short b":     func() { new(PackedB).Pack(true, 4, 4, make([]float32, 15), 4) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
