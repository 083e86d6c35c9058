package moe

import (
	"math"
	"testing"

	kt "github.com/glmflow/glmflow/kernels/internal/kerneltest"
)

// sigmoidScores returns n random sigmoid scores (fp32) from N(0, 1.5²) logits.
func sigmoidScores(seed uint64, n int) []float32 {
	l := kt.Normal(kt.RNG(seed), n, 1.5)
	for i, v := range l {
		l[i] = float32(1 / (1 + math.Exp(-float64(v))))
	}
	return l
}

func TestSeqAuxLoss(t *testing.T) {
	for _, c := range []struct{ B, S, E, k int }{{1, 7, 8, 2}, {3, 16, 16, 4}, {2, 5, 6, 6}} {
		t.Run(kt.Shape(c.B, c.S, c.E, c.k), func(t *testing.T) {
			const coeff = 1e-3
			n := c.B * c.S * c.E
			s := sigmoidScores(uint64(c.B*100+c.S), n)
			counts := make([]int32, c.B*c.E)
			loss, err := SeqAuxLoss(c.B, c.S, c.E, c.k, coeff, s, counts)
			must(t, err)
			s64 := kt.F64(s)
			want := RefSeqAuxLoss(c.B, c.S, c.E, c.k, coeff, s64)
			if math.Abs(loss-want) > kt.Tol(4, c.E+c.S, kt.Eps32, want, 0) {
				t.Errorf("loss %.9g, want %.9g", loss, want)
			}
			for b := range c.B { // every token routes to k experts
				sum := int32(0)
				for e := range c.E {
					sum += counts[b*c.E+e]
				}
				if int(sum) != c.S*c.k {
					t.Errorf("sequence %d: Σ counts = %d, want S·k = %d", b, sum, c.S*c.k)
				}
			}
			// Uniform routing (all scores equal, k = E) gives exactly coeff (Megatron's "1.0").
			if c.k == c.E {
				u := make([]float32, n)
				for i := range u {
					u[i] = 0.3
				}
				l, _ := SeqAuxLoss(c.B, c.S, c.E, c.k, coeff, u, counts)
				if math.Abs(l-coeff) > 1e-9 {
					t.Errorf("uniform loss %g, want %g", l, coeff)
				}
			}

			const dLoss = 2.5
			ds := make([]float32, n)
			kt.Poison(ds)
			must(t, SeqAuxLossBackward(c.B, c.S, c.E, c.k, coeff, s, counts, dLoss, ds))
			want64 := RefSeqAuxLossBackward(c.B, c.S, c.E, c.k, coeff, s64)
			for i := range want64 {
				want64[i] *= dLoss
			}
			// |dp| ≤ dLoss·coeff·E/(B·S·k) and ds = (dp − Σdp·p)/Σs: bound relative to that scale.
			minSum := math.Inf(1)
			for tok := range c.B * c.S {
				sum := 0.0
				for e := range c.E {
					sum += s64[tok*c.E+e]
				}
				minSum = math.Min(minSum, sum)
			}
			scale := dLoss * coeff * float64(c.E) / float64(c.B*c.S*c.k) / minSum
			kt.CloseAll(t, "dScores", ds, want64, kt.Tol(4, 2*c.E, kt.Eps32, scale, 0))
			// FD on the float64 reference with coeff 1 (the loss is linear in it); the routing map
			// does not flip for steps this small.
			kt.GradCheck(t, "ref dScores", s64, RefSeqAuxLossBackward(c.B, c.S, c.E, c.k, 1, s64),
				func(v []float64) float64 { return RefSeqAuxLoss(c.B, c.S, c.E, c.k, 1, v) }, 1e-6, 1e-5, 1e-9, 0)
		})
	}
}

func TestLoadBalanceLoss(t *testing.T) {
	const E, k = 8, 2
	Ts := []int{9, 5, 12} // three layers
	var layers [][]float32
	var l64 [][]float64
	for i, T := range Ts {
		l := kt.Normal(kt.RNG(uint64(50+i)), T*E, 1)
		layers = append(layers, l)
		l64 = append(l64, kt.F64(l))
	}
	counts, probSum := make([]float64, E), make([]float64, E)
	N := 0
	for i, l := range layers {
		must(t, LoadBalanceStats(Ts[i], E, k, l, counts, probSum))
		N += Ts[i]
	}
	loss, err := LoadBalanceLoss(E, N, counts, probSum)
	must(t, err)
	want := RefLoadBalanceLoss(E, k, l64)
	if math.Abs(loss-want) > kt.Tol(4, E+N, kt.Eps32, want, 0) {
		t.Errorf("loss %.9g, want %.9g", loss, want)
	}
	const dLoss = 0.7
	ref := RefLoadBalanceLossBackward(E, k, l64)
	for i, l := range layers {
		d := make([]float32, len(l))
		kt.Poison(d)
		must(t, LoadBalanceLossBackward(Ts[i], E, N, l, counts, dLoss, d))
		w := make([]float64, len(ref[i]))
		for j := range w {
			w[j] = dLoss * ref[i][j]
		}
		kt.CloseAll(t, "dLogits", d, w, kt.Tol(4, 2*E, kt.Eps32, maxAbs(w)*E, 1e-12))
	}
	// FD on the reference, perturbing the first layer's logits.
	kt.GradCheck(t, "ref dLogits", l64[0], ref[0], func(v []float64) float64 {
		return RefLoadBalanceLoss(E, k, append([][]float64{v}, l64[1:]...))
	}, 1e-7, 1e-5, 1e-10, 0)
}

func TestAuxLossErrors(t *testing.T) {
	if _, err := SeqAuxLoss(2, 3, 4, 5, 1, make([]float32, 24), make([]int32, 8)); err == nil {
		t.Error("k > E: no error")
	}
	if _, err := SeqAuxLoss(2, 3, 4, 2, 1, make([]float32, 23), make([]int32, 8)); err == nil {
		t.Error("short scores: no error")
	}
	if err := LoadBalanceStats(2, 4, 2, make([]float32, 8), make([]float64, 3), make([]float64, 4)); err == nil {
		t.Error("short counts: no error")
	}
	if _, err := LoadBalanceLoss(4, 0, make([]float64, 4), make([]float64, 4)); err == nil {
		t.Error("N = 0: no error")
	}
}
