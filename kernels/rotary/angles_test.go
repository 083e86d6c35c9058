package rotary

import (
	"math"
	"testing"
)

func TestInvFreq(t *testing.T) {
	inv, err := InvFreq(10000, 64)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv) != 32 || inv[0] != 1 {
		t.Fatalf("len %d, inv[0] %g", len(inv), inv[0])
	}
	for j, v := range inv {
		want := math.Pow(10000, -float64(2*j)/64)
		// float32 exponent, float32 pow and float32 reciprocal: a few ulps of float32 at most.
		if d := math.Abs(float64(v)-want) / want; d > 4e-7*(1+float64(j)/4) {
			t.Errorf("inv[%d] = %.9g, want ≈ %.9g (rel %.2g)", j, v, want, d)
		}
	}
	// Hand-computed: 10000^(−1/32) = 0.7498942093324559 → float32 0.74989421.
	if got := inv[1]; got != float32(0.7498942093324559) {
		t.Errorf("inv[1] = %.9g", got)
	}
	if _, err := InvFreq(10000, 7); err == nil {
		t.Error("odd dim accepted")
	}
}

func TestMRoPELayoutGLM45V(t *testing.T) {
	inv, _ := InvFreq(10000, 64)
	sl, err := MRoPESlots(inv, []int{8, 12, 12})
	if err != nil {
		t.Fatal(err)
	}
	for j, s := range sl.Stream {
		want := 0
		switch {
		case j >= 20:
			want = 2
		case j >= 8:
			want = 1
		}
		if s != want || sl.Freq[j] != inv[j] {
			t.Fatalf("slot %d: stream %d freq %g, want stream %d freq %g", j, s, sl.Freq[j], want, inv[j])
		}
	}
	// 6 tokens of the glm45v.md §4.3 worked example: t, h, w streams.
	pos := []int32{
		5, 5, 5, 5, 5, 5,
		5, 5, 5, 6, 6, 6,
		5, 6, 7, 5, 6, 7,
	}
	T, n := 6, 32
	c, s := make([]float32, T*n), make([]float32, T*n)
	if err := Angles(c, s, pos, 3, T, sl); err != nil {
		t.Fatal(err)
	}
	for tk := range T {
		for j := range n {
			p := float32(pos[sl.Stream[j]*T+tk])
			a := p * inv[j]
			if wc := float32(math.Cos(float64(a))); c[tk*n+j] != wc {
				t.Fatalf("cos[%d,%d] = %g, want %g", tk, j, c[tk*n+j], wc)
			}
		}
	}
	// Text-only: equal streams reduce MRoPE to 1-D RoPE.
	text := []int32{0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5}
	plain, _ := MRoPESlots(inv, []int{32})
	c1, s1 := make([]float32, T*n), make([]float32, T*n)
	c3, s3 := make([]float32, T*n), make([]float32, T*n)
	_ = Angles(c1, s1, text[:T], 1, T, plain)
	_ = Angles(c3, s3, text, 3, T, sl)
	for i := range c1 {
		if c1[i] != c3[i] || s1[i] != s3[i] {
			t.Fatalf("text-only MRoPE differs from 1-D rope at %d", i)
		}
	}
	if _, err := MRoPESlots(inv, []int{8, 12, 11}); err == nil {
		t.Error("bad section accepted")
	}
}

func TestAxialLayoutVision(t *testing.T) {
	Dh := 128
	inv, _ := InvFreq(10000, Dh/2) // 32 per axis
	sl := AxialSlots(inv, 2)
	if len(sl.Freq) != Dh/2 {
		t.Fatalf("R/2 = %d, want %d", len(sl.Freq), Dh/2)
	}
	// Tokens (h, w) = (0,0), (0,1), (1,0), (1,1) — one 2×2 merge block.
	pos := []int32{0, 0, 1, 1, 0, 1, 0, 1}
	T, n := 4, Dh/2
	c, s := make([]float32, T*n), make([]float32, T*n)
	if err := Angles(c, s, pos, 2, T, sl); err != nil {
		t.Fatal(err)
	}
	for tk := range T {
		h, w := float32(pos[tk]), float32(pos[T+tk])
		for j := range 32 {
			if ws := float32(math.Sin(float64(h * inv[j]))); s[tk*n+j] != ws {
				t.Fatalf("height slot %d of token %d: %g want %g", j, tk, s[tk*n+j], ws)
			}
			if ws := float32(math.Sin(float64(w * inv[j]))); s[tk*n+32+j] != ws {
				t.Fatalf("width slot %d of token %d: %g want %g", j, tk, s[tk*n+32+j], ws)
			}
		}
	}
	if err := Angles(c, s, pos, 1, T, sl); err == nil {
		t.Error("stream out of range accepted")
	}
}
