package rotary

import (
	"fmt"
	"math"
)

// InvFreq returns HF's default RoPE inverse frequencies for a rotary block of dim dims:
// dim/2 values inv[j] = 1 / theta^(2j/dim), computed in float32 like
// `1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float) / dim))`:
// the exponent 2j/dim is a float32 division, the power is evaluated in float64 and rounded to
// float32 (PyTorch's float32 pow is ≤1 ulp from that), and the reciprocal is a float32
// division.
//
// GLM-4.5V text: InvFreq(10000, 64) (rotary dim = head_dim·partial_rotary_factor = 64).
// GLM-4.5V vision: InvFreq(10000, Dh/2) (HF uses dim = head_dim/2 = 64 → 32 frequencies per axis).
func InvFreq(theta float64, dim int) ([]float32, error) {
	if dim <= 0 || dim%2 != 0 || !(theta > 0) {
		return nil, fmt.Errorf("rotary.InvFreq: need theta > 0 and even dim > 0, got theta=%g dim=%d", theta, dim)
	}
	inv := make([]float32, dim/2)
	for j := range inv {
		e := float32(2*j) / float32(dim)
		p := float32(math.Pow(float64(float32(theta)), float64(e)))
		inv[j] = 1 / p
	}
	return inv, nil
}

// Slots says, for each of the R/2 frequency slots of a rotary block, which inverse frequency it
// uses and which position stream supplies its position.
type Slots struct {
	Freq   []float32 // [R/2] inverse frequency of slot j
	Stream []int     // [R/2] position stream (row of pos in Angles) of slot j
}

// MRoPESlots lays out HF's multimodal RoPE (glm4v_moe recomposition_frequencies): the
// len(invFreq) slots are cut into contiguous chunks of the sizes in section; chunk i reads
// stream i mod 3 (0 temporal, 1 height, 2 width); slot j keeps inverse frequency invFreq[j].
// GLM-4.5V: section [8, 12, 12] over 32 slots → slots 0–7 temporal, 8–19 height, 20–31 width.
func MRoPESlots(invFreq []float32, section []int) (Slots, error) {
	sum := 0
	for _, s := range section {
		if s < 0 {
			return Slots{}, fmt.Errorf("rotary.MRoPESlots: negative section %v", section)
		}
		sum += s
	}
	if sum != len(invFreq) {
		return Slots{}, fmt.Errorf("rotary.MRoPESlots: section %v sums to %d, want len(invFreq) = %d", section, sum, len(invFreq))
	}
	sl := Slots{Freq: append([]float32(nil), invFreq...), Stream: make([]int, 0, sum)}
	for i, s := range section {
		for range s {
			sl.Stream = append(sl.Stream, i%3)
		}
	}
	return sl, nil
}

// AxialSlots lays out the vision tower's axial rope: axes blocks of len(invFreq) slots each;
// slot a·n + j reads stream a with inverse frequency invFreq[j]. GLM-4.5V vision: axes = 2
// (stream 0 = patch row h, stream 1 = patch column w), n = Dh/4, so R = Dh (full rotary).
func AxialSlots(invFreq []float32, axes int) Slots {
	n := len(invFreq)
	sl := Slots{Freq: make([]float32, 0, axes*n), Stream: make([]int, 0, axes*n)}
	for a := range axes {
		sl.Freq = append(sl.Freq, invFreq...)
		for range n {
			sl.Stream = append(sl.Stream, a)
		}
	}
	return sl
}

// Angles fills the per-token tables for Forward/Backward:
//
//	cos, sin [T, R/2]   R/2 = len(sl.Freq)
//	pos      [S, T]     integer positions, one row per stream
//
// angle = float32(float32(pos)·freq) — the single float32 product HF's
// `inv_freq @ position_ids.float()` performs (computed exactly in float64, then rounded once,
// which is the same value) — then cos/sin are evaluated in float64 on that float32 angle and
// rounded to float32 (PyTorch's float32 cos/sin are within 1 ulp of this).
func Angles(cos, sin []float32, pos []int32, S, T int, sl Slots) error {
	n := len(sl.Freq)
	switch {
	case S <= 0 || T < 0:
		return fmt.Errorf("rotary.Angles: bad dims S=%d T=%d", S, T)
	case len(sl.Stream) != n:
		return fmt.Errorf("rotary.Angles: slots have %d freqs but %d streams", n, len(sl.Stream))
	case len(pos) != S*T:
		return fmt.Errorf("rotary.Angles: len(pos) = %d, want S·T = %d", len(pos), S*T)
	case len(cos) != T*n || len(sin) != T*n:
		return fmt.Errorf("rotary.Angles: len(cos), len(sin) = %d, %d, want T·R/2 = %d", len(cos), len(sin), T*n)
	}
	for _, s := range sl.Stream {
		if s < 0 || s >= S {
			return fmt.Errorf("rotary.Angles: slot stream %d out of range [0, %d)", s, S)
		}
	}
	run(T, 8*n, func(t0, t1 int) {
		for t := t0; t < t1; t++ {
			for j, f := range sl.Freq {
				p := float32(pos[sl.Stream[j]*T+t])
				a := float64(float32(float64(p) * float64(f)))
				cos[t*n+j] = float32(math.Cos(a))
				sin[t*n+j] = float32(math.Sin(a))
			}
		}
	})
	return nil
}
