package optim

import (
	"encoding/json"
	"math"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/glmflow/glmflow/kernels/internal/kerneltest"
)

// TestRefAdamWByHand pins the float64 reference to values worked out by hand.
// p=1, g=0.5, lr=0.1, β1=0.9, β2=0.99, eps=0, wd=0.1:
// step 1: p = 1·(1−0.01) = 0.99; m = 0.05; v = 0.0025; m̂ = 0.5, v̂ = 0.25; p = 0.99 − 0.1·0.5/0.5 = 0.89.
// step 2 (g=0.5 again): p = 0.89·0.99 = 0.8811; m = 0.095; v = 0.004975;
// m̂ = 0.095/0.19 = 0.5; v̂ = 0.004975/0.0199 = 0.25; p = 0.8811 − 0.1 = 0.7811.
func TestRefAdamWByHand(t *testing.T) {
	c := AdamW{LR: 0.1, Beta1: 0.9, Beta2: 0.99, Eps: 0, WeightDecay: 0.1}
	p, g, m, v := []float64{1}, []float64{0.5}, []float64{0}, []float64{0}
	RefAdamWStep(p, g, m, v, c, 1)
	if math.Abs(p[0]-0.89) > 1e-15 || math.Abs(m[0]-0.05) > 1e-15 || math.Abs(v[0]-0.0025) > 1e-15 {
		t.Fatalf("step 1: p=%v m=%v v=%v", p, m, v)
	}
	RefAdamWStep(p, g, m, v, c, 2)
	if math.Abs(p[0]-0.7811) > 1e-14 || math.Abs(m[0]-0.095) > 1e-15 || math.Abs(v[0]-0.004975) > 1e-15 {
		t.Fatalf("step 2: p=%v m=%v v=%v", p, m, v)
	}
	// Same gradient sign every step with eps=0: |Δp from Adam| = lr exactly (m̂/√v̂ = 1).
}

func TestAdamWVsReference(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		c := AdamW{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}
		for _, n := range []int{1, 17, 1000, 70001} {
			r := kerneltest.RNG(uint64(n))
			p := kerneltest.Normal(r, n, 1)
			m, v := make([]float32, n), make([]float32, n)
			p64, m64, v64 := kerneltest.F64(p), make([]float64, n), make([]float64, n)
			for step := 1; step <= 5; step++ {
				g := kerneltest.Normal(r, n, 0.1*float64(step))
				if err := c.Step(p, g, m, v, step); err != nil {
					t.Fatal(err)
				}
				RefAdamWStep(p64, kerneltest.F64(g), m64, v64, c, step)
			}
			// Each step moves p by ≤ ~lr; fp32 rounding of p (|p|≈1) dominates: a few eps per step.
			kerneltest.Close(t, "AdamW p", p, p64, func(i int) float64 { return kerneltest.Tol(4, 5, kerneltest.Eps32, math.Abs(p64[i])+5*c.LR, 0) })
			kerneltest.Close(t, "AdamW m", m, m64, func(i int) float64 { return kerneltest.Tol(4, 5, kerneltest.Eps32, 0.5, 0) })
			kerneltest.Close(t, "AdamW v", v, v64, func(i int) float64 { return kerneltest.Tol(4, 5, kerneltest.Eps32, v64[i], 0) })
		}
	})
}

type golden struct {
	LR, Beta1, Beta2, Eps, WeightDecay float64
	Init                               [][]float32
	Grads                              [][][]float32
	After                              []struct{ P, M, V [][]float32 }
	ClipIn                             [][]float32 `json:"clip_in"`
	Clip                               []struct {
		MaxNorm   float64 `json:"max_norm"`
		TotalNorm float64 `json:"total_norm"`
		Grads     [][]float32
	}
}

func loadGolden(t *testing.T) *golden {
	b, err := os.ReadFile("testdata/adamw_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	// encoding/json matches "weight_decay" to WeightDecay only case-insensitively without the
	// underscore, so read it separately.
	var raw map[string]any
	_ = json.Unmarshal(b, &raw)
	g.WeightDecay = raw["weight_decay"].(float64)
	return &g
}

// ulps is |a−b| in float32 ulps of b.
func ulps(a, b float32) float64 {
	if a == b {
		return 0
	}
	ab := float32(math.Abs(float64(b)))
	return math.Abs(float64(a)-float64(b)) / float64(math.Nextafter32(ab, float32(math.Inf(1)))-ab)
}

// TestAdamWGoldenTorch replays torch.optim.AdamW (testdata/gen_golden.py) step by step.
func TestAdamWGoldenTorch(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		g := loadGolden(t)
		c := AdamW{LR: g.LR, Beta1: g.Beta1, Beta2: g.Beta2, Eps: g.Eps, WeightDecay: g.WeightDecay}
		if c.WeightDecay == 0 || len(g.After) == 0 {
			t.Fatal("golden file incomplete")
		}
		worst := 0.0
		for ti, p0 := range g.Init {
			p := append([]float32(nil), p0...)
			m, v := make([]float32, len(p)), make([]float32, len(p))
			for s, a := range g.After {
				if err := c.Step(p, g.Grads[s][ti], m, v, s+1); err != nil {
					t.Fatal(err)
				}
				for i := range p {
					d := max(ulps(p[i], a.P[ti][i]), ulps(m[i], a.M[ti][i]), ulps(v[i], a.V[ti][i]))
					worst = max(worst, d)
					if d > 0 { // bit-exact on every path
						t.Fatalf("tensor %d step %d elem %d: p %g m %g v %g, torch p %g m %g v %g",
							ti, s+1, i, p[i], m[i], v[i], a.P[ti][i], a.M[ti][i], a.V[ti][i])
					}
				}
			}
		}
		t.Logf("max difference from torch: %.1f ulp", worst)
	})
}

func TestClipGoldenTorch(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		g := loadGolden(t)
		for _, c := range g.Clip {
			grads := make([][]float32, len(g.ClipIn))
			for i, x := range g.ClipIn {
				grads[i] = append([]float32(nil), x...)
			}
			norm, err := ClipByGlobalNorm(grads, c.MaxNorm)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(norm-c.TotalNorm) > 4*kerneltest.Eps32*c.TotalNorm {
				t.Errorf("max_norm %g: norm %g, torch %g", c.MaxNorm, norm, c.TotalNorm)
			}
			for ti := range grads {
				for i := range grads[ti] {
					if d := ulps(grads[ti][i], c.Grads[ti][i]); d > 2 {
						t.Fatalf("max_norm %g: grad[%d][%d] = %g, torch %g", c.MaxNorm, ti, i, grads[ti][i], c.Grads[ti][i])
					}
				}
			}
		}
	})
}

func TestGlobalNorm(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		r := kerneltest.RNG(3)
		var grads [][]float32
		want := 0.0
		for _, n := range []int{0, 1, 4095, 4096, 4097, 100000, 3} {
			g := kerneltest.Normal(r, n, 1)
			grads = append(grads, g)
			for _, x := range g {
				want += float64(x) * float64(x)
			}
		}
		want = math.Sqrt(want)
		saved := runtime.GOMAXPROCS(1)
		defer runtime.GOMAXPROCS(saved)
		got := GlobalNorm(grads)
		if math.Abs(got-want) > 1e-12*want {
			t.Fatalf("GlobalNorm = %.17g, want %.17g", got, want)
		}
		for _, p := range []int{2, 5} {
			runtime.GOMAXPROCS(p)
			if g := GlobalNorm(grads); g != got {
				t.Fatalf("GlobalNorm with %d threads = %.17g, with 1 thread %.17g", p, g, got)
			}
		}
		if GlobalNorm(nil) != 0 {
			t.Error("GlobalNorm(nil) != 0")
		}
	})
}

func TestClip(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		grads := [][]float32{{3, 0}, {4}}
		norm, err := ClipByGlobalNorm(grads, 1)
		if err != nil || norm != 5 {
			t.Fatalf("norm %g err %v", norm, err)
		}
		s := float32(1 / (5 + 1e-6))
		if grads[0][0] != 3*s || grads[1][0] != 4*s {
			t.Fatalf("clipped grads %v", grads)
		}
		grads = [][]float32{{3, 0}, {4}}
		if _, err := ClipByGlobalNorm(grads, 10); err != nil || grads[0][0] != 3 || grads[1][0] != 4 {
			t.Fatalf("no-clip case changed grads: %v", grads)
		}
		grads = [][]float32{{3, float32(math.NaN())}}
		if _, err := ClipByGlobalNorm(grads, 1); err == nil || grads[0][0] != 3 {
			t.Fatalf("NaN norm: err %v, grads %v", err, grads)
		}
		if _, err := ClipByGlobalNorm(grads, 0); err == nil {
			t.Fatal("maxNorm 0 accepted")
		}
	})
}

func TestAdamWErrors(t *testing.T) {
	ok := AdamW{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
	p := make([]float32, 3)
	for name, err := range map[string]error{
		"len(g)": ok.Step(p, p[:2], p, p, 1),
		"len(v)": ok.Step(p, p, p, p[:1], 1),
		"step t": ok.Step(p, p, p, p, 0),
		"Beta1":  AdamW{LR: 1, Beta1: 1, Beta2: 0.9}.Step(p, p, p, p, 1),
		"LR":     AdamW{LR: math.NaN()}.Step(p, p, p, p, 1),
	} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error = %v", name, err)
		}
	}
}
