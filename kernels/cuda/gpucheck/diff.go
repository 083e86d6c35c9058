package gpucheck

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/kernels/internal/kerneltest"
	"github.com/glmflow/glmflow/tensors"
)

// pair is one tensor on both backends, equal contents at creation.
type pair struct{ g, c *tensors.Tensor }

// diff runs ops on the CUDA backend and the CPU backend with the same inputs and compares
// every element of every output.
type diff struct {
	gpu, cpu kernels.Backend
	rng      *rand.Rand
	r        *Report
	rows     []string
	bad      int
	err      error
}

func (d *diff) keep(err error) {
	if err != nil && d.err == nil {
		d.err = err
	}
}

// host uploads a host tensor to both backends.
func (d *diff) host(h *tensors.Tensor) pair {
	g, err := d.gpu.Upload(h)
	d.keep(err)
	c, err := d.cpu.Upload(h)
	d.keep(err)
	if g == nil || c == nil {
		return pair{h, h.Clone()}
	}
	return pair{g, c}
}

// rand is uniform in [lo, hi).
func (d *diff) rand(lo, hi float64, shape ...int) pair {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return d.host(tensors.MustF32(kerneltest.Uniform(d.rng, n, lo, hi), shape...))
}

// out is a NaN-poisoned F32 output (an element the op does not write fails the comparison).
func (d *diff) out(shape ...int) pair {
	h := tensors.New(tensors.F32, shape...)
	kerneltest.Poison(h.F32())
	return d.host(h)
}

// ints is an I32 tensor on both sides.
func (d *diff) ints(v []int32, shape ...int) pair {
	h := tensors.New(tensors.I32, shape...)
	copy(h.I32(), v)
	return d.host(h)
}

// iout is a poisoned I32 output.
func (d *diff) iout(n int) pair {
	v := make([]int32, n)
	for i := range v {
		v[i] = -777
	}
	return d.ints(v, n)
}

// zeros is a zeroed F32 accumulator.
func (d *diff) zeros(shape ...int) pair { return d.host(tensors.New(tensors.F32, shape...)) }

// run calls f once per backend, with the backend's side of each pair.
func (d *diff) run(op string, f func(be kernels.Backend, s func(pair) *tensors.Tensor) error) {
	if d.err != nil {
		return
	}
	if err := f(d.gpu, func(p pair) *tensors.Tensor { return p.g }); err != nil {
		d.keep(fmt.Errorf("%s on cuda: %w", op, err))
		return
	}
	if err := f(d.cpu, func(p pair) *tensors.Tensor { return p.c }); err != nil {
		d.keep(fmt.Errorf("%s on cpu: %w", op, err))
	}
}

// tol is a comparison tolerance: |gpu − cpu| ≤ abs + rel·|cpu|.
type tol struct{ rel, abs float64 }

// fp32 is the tolerance of an fp32 result of reductions of length k: rel 32·ε·√k, abs the
// same times the typical magnitude 1.
func fp32(k int) tol {
	e := 32 * math.Pow(2, -23) * math.Sqrt(float64(max(k, 1)))
	return tol{e, e}
}

// bf16 is the tolerance of results whose operands were rounded to bf16 (8 significant bits)
// where the two sides may round intermediate values (attention's per-tile P) at different
// points: 2⁻⁸·√k.
func bf16(k int) tol {
	e := math.Pow(2, -8) * math.Sqrt(float64(max(k, 1)))
	return tol{e, e}
}

// exact compares bit patterns (integer outputs, copies, casts).
var exact = tol{-1, -1}

// check compares the two sides of p element by element and adds a table row.
func (d *diff) check(name string, p pair, t tol) {
	if d.err != nil {
		return
	}
	g, err := d.gpu.Download(p.g)
	if err != nil {
		d.keep(fmt.Errorf("%s: download: %w", name, err))
		return
	}
	c := p.c
	n, worst, first := c.Numel(), 0.0, -1
	ratio := func(i int, gv, cv float64) {
		bad := false
		if t.rel < 0 {
			bad = gv != cv && !(math.IsNaN(gv) && math.IsNaN(cv))
		} else if math.IsNaN(cv) != math.IsNaN(gv) || math.IsInf(cv, 0) && gv != cv {
			bad = true
		} else if !math.IsNaN(cv) && !math.IsInf(cv, 0) {
			e := math.Abs(gv-cv) / (t.abs + t.rel*math.Abs(cv))
			worst = math.Max(worst, e)
			bad = e > 1
		}
		if bad && first < 0 {
			first = i
		}
	}
	var gs, cs func(i int) float64
	switch c.DType() {
	case tensors.F32:
		gf, cf := g.F32(), c.F32()
		gs, cs = func(i int) float64 { return float64(gf[i]) }, func(i int) float64 { return float64(cf[i]) }
	case tensors.I32:
		gi, ci := g.I32(), c.I32()
		gs, cs = func(i int) float64 { return float64(gi[i]) }, func(i int) float64 { return float64(ci[i]) }
	case tensors.BF16:
		gb, cb := g.BF16(), c.BF16()
		gs, cs = func(i int) float64 { return float64(gb[i]) }, func(i int) float64 { return float64(cb[i]) }
	default:
		d.keep(fmt.Errorf("%s: dtype %v not compared", name, c.DType()))
		return
	}
	for i := range n {
		ratio(i, gs(i), cs(i))
	}
	status := "ok"
	if first >= 0 {
		status = fmt.Sprintf("**FAIL** at [%d]: cuda %v, cpu %v", first, gs(first), cs(first))
		d.bad++
	}
	tolS := "exact"
	if t.rel >= 0 {
		tolS = fmt.Sprintf("%.2g·|x| + %.2g", t.rel, t.abs)
	}
	d.rows = append(d.rows, fmt.Sprintf("| %s | %v | %d | %.3g | %s | %s |", name, c.Shape(), n, worst, tolS, status))
}

// scalar compares a host scalar (loss sums, norms).
func (d *diff) scalar(name string, g, c float64, t tol) {
	e := math.Abs(g-c) / (t.abs + t.rel*math.Abs(c))
	status := "ok"
	if !(e <= 1) {
		status = fmt.Sprintf("**FAIL**: cuda %v, cpu %v", g, c)
		d.bad++
	}
	d.rows = append(d.rows, fmt.Sprintf("| %s | scalar | 1 | %.3g | %.2g·|x| + %.2g | %s |", name, e, t.rel, t.abs, status))
}
