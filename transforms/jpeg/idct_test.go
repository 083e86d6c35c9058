package jpeg

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestIDCTAVX2MatchesGo: the assembly and the Go transform agree on random
// blocks, including extreme coefficients and quantizers that overflow 16 bits
// and saturate, and sparse blocks that take the pass-1 shortcut.
func TestIDCTAVX2MatchesGo(t *testing.T) {
	if !hasAVX2 {
		t.Skip("no AVX2 on this CPU")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for it := 0; it < 20000; it++ {
		var coef, q [64]int16
		mode := it % 4
		for i := range coef {
			switch mode {
			case 0: // realistic
				q[i] = int16(1 + rng.IntN(60))
				if rng.IntN(4) == 0 {
					coef[i] = int16(rng.IntN(81) - 40)
				}
			case 1: // extreme
				q[i] = int16(rng.Uint32())
				coef[i] = int16(rng.Uint32())
			case 2: // row 0 only (shortcut), extreme
				q[i] = int16(rng.Uint32())
				if i < 8 {
					coef[i] = int16(rng.Uint32())
				}
			case 3: // sparse with large values
				q[i] = int16(rng.IntN(2000))
				if rng.IntN(10) == 0 {
					coef[i] = int16(rng.IntN(4001) - 2000)
				}
			}
		}
		var a, b [8 * 11]uint8
		c1, c2 := coef, coef
		idctGo(&c1, &q, a[:], 11)
		idctAVX2(&c2, &q, &b[0], 11)
		if a != b {
			t.Fatalf("iteration %d (mode %d): AVX2 and Go differ\ncoef=%v\nq=%v\ngo=%v\navx2=%v", it, mode, coef, q, a, b)
		}
		if c2 != coef {
			t.Fatal("idctAVX2 modified its input")
		}
	}
}

// TestIDCTFloatReference: for in-range data the integer transform is within
// one level of the exact float64 inverse DCT (an independent reference).
func TestIDCTFloatReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	withIDCT(t, func(t *testing.T) {
		worst := 0.0
		for it := 0; it < 800; it++ {
			var coef, q [64]int16
			for i := range coef {
				q[i] = int16(1 + rng.IntN(16))
				if i == 0 || rng.IntN(3) == 0 {
					coef[i] = int16(rng.IntN(41) - 20)
				}
			}
			var out [64]uint8
			c := coef
			idctBlock(&c, &q, out[:], 8)
			for y := 0; y < 8; y++ {
				for x := 0; x < 8; x++ {
					s := 0.0
					for v := 0; v < 8; v++ {
						for u := 0; u < 8; u++ {
							cu, cv := 1.0, 1.0
							if u == 0 {
								cu = math.Sqrt2 / 2
							}
							if v == 0 {
								cv = math.Sqrt2 / 2
							}
							f := float64(coef[v*8+u]) * float64(q[v*8+u])
							s += cu * cv * f * math.Cos(float64(2*x+1)*float64(u)*math.Pi/16) * math.Cos(float64(2*y+1)*float64(v)*math.Pi/16)
						}
					}
					ref := math.Min(255, math.Max(0, s/4+128))
					worst = math.Max(worst, math.Abs(ref-float64(out[y*8+x])))
				}
			}
		}
		if worst > 1.0 {
			t.Fatalf("max deviation from float64 IDCT = %.3f levels, want <= 1", worst)
		}
	})
}

func TestDCOnlyValueMatchesIDCT(t *testing.T) {
	withIDCT(t, func(t *testing.T) {
		for _, dc := range []int16{-32768, -5000, -1024, -300, -1, 0, 1, 7, 300, 1016, 5000, 32767} {
			for _, qv := range []int16{1, 2, 16, 255, -1, 32767} {
				var coef, q [64]int16
				coef[0] = dc
				for i := range q {
					q[i] = qv
				}
				var out [64]uint8
				idctBlock(&coef, &q, out[:], 8)
				want := dcOnlyValue(dc, qv)
				for i, v := range out {
					if v != want {
						t.Fatalf("dc=%d q=%d: sample %d = %d, dcOnlyValue = %d", dc, qv, i, v, want)
					}
				}
			}
		}
	})
}
