package moe

import (
	"slices"
	"testing"

	kt "github.com/glmflow/glmflow/kernels/internal/kerneltest"
)

// randomTopIdx returns k distinct experts per token drawn from the first `used` experts of E
// (experts ≥ used stay empty).
func randomTopIdx(seed uint64, T, k, used int) []int32 {
	r := kt.RNG(seed)
	idx := make([]int32, T*k)
	for t := range T {
		p := r.Perm(used)
		for j := range k {
			idx[t*k+j] = int32(p[j])
		}
	}
	return idx
}

func TestBuildPermutation(t *testing.T) {
	cases := []struct {
		name       string
		T, k, E    int
		topIdx     []int32
		wantCounts []int32
	}{
		{"hand", 3, 2, 4, []int32{2, 0, 0, 3, 2, 3}, []int32{2, 0, 2, 2}},
		{"empty experts", 50, 2, 8, randomTopIdx(1, 50, 2, 3), nil},
		{"hot expert", 40, 1, 5, make([]int32, 40), []int32{40, 0, 0, 0, 0}},
		{"T=0", 0, 2, 3, nil, []int32{0, 0, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			R := c.T * c.k
			offs, rowSrc, pos := make([]int32, c.E+1), make([]int32, R), make([]int32, R)
			must(t, BuildPermutation(c.T, c.k, c.E, c.topIdx, offs, rowSrc, pos))
			if offs[0] != 0 || int(offs[c.E]) != R {
				t.Fatalf("offs = %v", offs)
			}
			for e := range c.E {
				if c.wantCounts != nil && offs[e+1]-offs[e] != c.wantCounts[e] {
					t.Errorf("expert %d: %d rows, want %d", e, offs[e+1]-offs[e], c.wantCounts[e])
				}
				for r := offs[e]; r < offs[e+1]; r++ {
					a := rowSrc[r]
					if c.topIdx[a] != int32(e) {
						t.Errorf("row %d in expert %d holds assignment %d of expert %d", r, e, a, c.topIdx[a])
					}
					if r > offs[e] && rowSrc[r-1] >= a {
						t.Errorf("expert %d: rows not in (t, j) order: %d then %d", e, rowSrc[r-1], a)
					}
				}
			}
			for a := range R {
				if rowSrc[pos[a]] != int32(a) {
					t.Fatalf("pos is not the inverse of rowSrc at %d", a)
				}
			}
		})
	}
	if err := BuildPermutation(2, 1, 3, []int32{0, 3}, make([]int32, 4), make([]int32, 2), make([]int32, 2)); err == nil {
		t.Error("expert index out of range: no error")
	}
}

// TestPermuteUnpermute checks the four ops against direct per-token formulas in float64 and
// the backward of Unpermute by finite differences (it is bilinear in topW and yPerm).
func TestPermuteUnpermute(t *testing.T) {
	const T, k, E, D = 33, 3, 7, 13
	R := T * k
	topIdx := randomTopIdx(3, T, k, 5) // experts 5, 6 empty
	offs, rowSrc, pos := make([]int32, E+1), make([]int32, R), make([]int32, R)
	must(t, BuildPermutation(T, k, E, topIdx, offs, rowSrc, pos))
	r := kt.RNG(4)
	x := kt.Normal(r, T*D, 1)
	topW := kt.Uniform(r, R, 0.1, 1)
	y := kt.Normal(r, R*D, 1)
	dOut := kt.Normal(r, T*D, 1)
	dXp := kt.Normal(r, R*D, 1)

	xp := make([]float32, R*D)
	kt.Poison(xp)
	must(t, Permute(T, D, k, x, rowSrc, xp))
	for tok := range T {
		for j := range k {
			p := int(pos[tok*k+j])
			if !slices.Equal(xp[p*D:(p+1)*D], x[tok*D:(tok+1)*D]) {
				t.Fatalf("Permute: row of (%d,%d) is not x[%d]", tok, j, tok)
			}
		}
	}

	out := make([]float32, T*D)
	kt.Poison(out)
	must(t, Unpermute(T, D, k, y, pos, topW, out))
	want := make([]float64, T*D)
	for tok := range T {
		for j := range k {
			p := int(pos[tok*k+j])
			for d := range D {
				want[tok*D+d] += float64(topW[tok*k+j]) * float64(y[p*D+d])
			}
		}
	}
	kt.CloseAll(t, "Unpermute", out, want, kt.Tol(2, k, kt.Eps32, 4*k, 0))

	dy, dw := make([]float32, R*D), make([]float32, R)
	kt.Poison(dy)
	kt.Poison(dw)
	must(t, UnpermuteBackward(T, D, k, dOut, y, pos, topW, dy, dw))
	wantDy, wantDw := make([]float64, R*D), make([]float64, R)
	for tok := range T {
		for j := range k {
			p := int(pos[tok*k+j])
			for d := range D {
				wantDy[p*D+d] = float64(topW[tok*k+j]) * float64(dOut[tok*D+d])
				wantDw[tok*k+j] += float64(dOut[tok*D+d]) * float64(y[p*D+d])
			}
		}
	}
	kt.CloseAll(t, "dYPerm", dy, wantDy, 2*kt.Eps32*4)
	kt.CloseAll(t, "dTopW", dw, wantDw, kt.Tol(2, D, kt.Eps32, 16*D, 0))
	// FD of L = Σ dOut·Unpermute(y, topW) in float64 w.r.t. topW.
	unperm := func(w []float64) float64 {
		l := 0.0
		for tok := range T {
			for j := range k {
				p := int(pos[tok*k+j])
				for d := range D {
					l += float64(dOut[tok*D+d]) * w[tok*k+j] * float64(y[p*D+d])
				}
			}
		}
		return l
	}
	kt.GradCheck(t, "dTopW", kt.F64(topW), wantDw, unperm, 1e-6, 1e-7, 1e-9, 0)

	dx := make([]float32, T*D)
	kt.Poison(dx)
	must(t, PermuteBackward(T, D, k, dXp, pos, dx))
	wantDx := make([]float64, T*D)
	for tok := range T {
		for j := range k {
			p := int(pos[tok*k+j])
			for d := range D {
				wantDx[tok*D+d] += float64(dXp[p*D+d])
			}
		}
	}
	kt.CloseAll(t, "PermuteBackward", dx, wantDx, kt.Tol(2, k, kt.Eps32, 4*k, 0))
}

func TestPermuteErrors(t *testing.T) {
	f := func(n int) []float32 { return make([]float32, n) }
	if err := Permute(2, 3, 2, f(6), []int32{0, 1, 2, 4}, f(12)); err == nil {
		t.Error("rowSrc out of range: no error")
	}
	if err := PermuteBackward(2, 3, 2, f(12), []int32{0, 1, 2, -1}, f(6)); err == nil {
		t.Error("negative pos: no error")
	}
	if err := Unpermute(2, 3, 2, f(11), []int32{0, 1, 2, 3}, f(4), f(6)); err == nil {
		t.Error("short yPerm: no error")
	}
	if err := UnpermuteBackward(2, 3, 2, f(6), f(12), []int32{0, 1, 2, 3}, f(4), f(12), f(3)); err == nil {
		t.Error("short dTopW: no error")
	}
}
