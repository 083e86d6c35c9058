package gridsample

import (
	"fmt"
	"github.com/glmflow/glmflow/kernels/internal/parallel"
	"math"
)

// A is the cubic convolution coefficient PyTorch uses for bicubic grid_sample.
const A = -0.75

// Coord is HF Glm4v's normalised coordinate of patch index i in a grid of n patches:
// ((i + 0.5)/n)·2 − 1, rounded to float32 after every step as PyTorch computes it in float32.
func Coord(i, n int) float32 {
	v := float32(float32(i)+0.5) / float32(n)
	return float32(v*2) - 1
}

// Forward samples table at the N points of grid and writes out.
//
//	out   [N, C]       overwritten
//	table [H0, W0, C]  channels last
//	grid  [N, 2]       (x, y) normalised; x along W0, y along H0
func Forward(out, table, grid []float32, H0, W0, C, N int) error {
	if err := check("gridsample.Forward", H0, W0, C, N, lenArg{"out", out, N * C},
		lenArg{"table", table, H0 * W0 * C}, lenArg{"grid", grid, 2 * N}); err != nil {
		return err
	}
	run(N, 16*C, func(n0, n1 int) {
		rbuf := make([]float32, 4*C)
		for n := n0; n < n1; n++ {
			p := locate(grid[2*n], grid[2*n+1], H0, W0)
			sample(out[n*C:(n+1)*C], rbuf, table, &p, C)
		}
	})
	return nil
}

// Backward accumulates the table gradient and, when dgrid is not nil, overwrites the grid
// gradient.
//
//	dtable [H0, W0, C]  accumulated (+=); nil: skipped
//	dgrid  [N, 2]       overwritten; nil: skipped
//	dout   [N, C]
//	table  [H0, W0, C]  needed only for dgrid (may be nil when dgrid is nil)
//	grid   [N, 2]
//
// d(table) is summed over points in order 0..N−1 for every element, whatever the thread count.
func Backward(dtable, dgrid, dout, table, grid []float32, H0, W0, C, N int) error {
	const op = "gridsample.Backward"
	args := []lenArg{{"dout", dout, N * C}, {"grid", grid, 2 * N}}
	if dtable != nil {
		args = append(args, lenArg{"dtable", dtable, H0 * W0 * C})
	}
	if dgrid != nil || table != nil {
		args = append(args, lenArg{"table", table, H0 * W0 * C})
	}
	if dgrid != nil {
		args = append(args, lenArg{"dgrid", dgrid, 2 * N})
	}
	if err := check(op, H0, W0, C, N, args...); err != nil {
		return err
	}
	if dtable != nil && N > 0 {
		pts := make([]point, N)
		run(N, 4, func(n0, n1 int) {
			for n := n0; n < n1; n++ {
				pts[n] = locate(grid[2*n], grid[2*n+1], H0, W0)
			}
		})
		// Split over channels: each element of dtable is owned by one worker, which visits the
		// points in a fixed order, so the sum order does not depend on the split.
		run(C, 16*N, func(c0, c1 int) {
			for b := 0; b < N; b += scatterBlock {
				scatter(dtable, dout, pts[b:min(b+scatterBlock, N)], b, C, c0, c1)
			}
		})
	}
	if dgrid != nil {
		run(N, 32*C, func(n0, n1 int) {
			for n := n0; n < n1; n++ {
				p := locate(grid[2*n], grid[2*n+1], H0, W0)
				dgrid[2*n], dgrid[2*n+1] = gridGrad(dout[n*C:(n+1)*C], table, &p, H0, W0, C)
			}
		})
	}
	return nil
}

// point holds one sample's tap offsets (row·W0 + col, clamped per tap) and cubic weights.
type point struct {
	off    [4][4]int // [row i][col j] element offset / C
	wx, wy [4]float32
	tx, ty float32
}

// locate computes taps and weights the way PyTorch's vectorised CPU kernel does.
func locate(x, y float32, H0, W0 int) point {
	ix := fma32(x+1, float32(W0)/2, -0.5)
	iy := fma32(y+1, float32(H0)/2, -0.5)
	fx := float32(math.Floor(float64(ix)))
	fy := float32(math.Floor(float64(iy)))
	var p point
	p.tx, p.ty = ix-fx, iy-fy
	p.wx = coeffs(p.tx)
	p.wy = coeffs(p.ty)
	for i := range 4 {
		r := clampIdx(fy+float32(i-1), H0)
		for j := range 4 {
			p.off[i][j] = r*W0 + clampIdx(fx+float32(j-1), W0)
		}
	}
	return p
}

// fma32 is a·b + c with one float32 rounding, as the FMA instructions PyTorch's compiled kernel
// uses. a·b is exact in float64, so only the final float64 → float32 step can double-round
// (a halfway case, probability ≈ 2⁻²⁹ per call).
func fma32(a, b, c float32) float32 { return float32(float64(a)*float64(b) + float64(c)) }

// clampIdx clamps a float tap coordinate to [0, size−1] (NaN → 0) and converts it.
func clampIdx(v float32, size int) int {
	if !(v > 0) { // also NaN
		return 0
	}
	if v >= float32(size-1) {
		return size - 1
	}
	return int(v)
}

// coeffs are the cubic convolution weights for fraction t, rounded step by step as PyTorch's
// CPU kernel (Debian's 1.13 build, GCC contracting only the last step of the inner weights into
// an FMA) computes them; explicit float32 conversions keep the other products rounded.
func coeffs(t float32) [4]float32 {
	const a = float32(A)
	outer := func(x float32) float32 { // 1 < x < 2: ((a·x − 5a)·x + 8a)·x − 4a
		v := float32(a*x) - 5*a
		v = float32(v*x) + 8*a
		return float32(v*x) - 4*a
	}
	inner := func(x float32) float32 { // 0 ≤ x ≤ 1: ((a+2)·x − (a+3))·x·x + 1
		v := float32((a+2)*x) - (a + 3)
		return fma32(float32(v*x), x, 1)
	}
	return [4]float32{outer(t + 1), inner(t), inner(1 - t), outer(2 - t)}
}

// coeffsGrad are d(coeffs)/dt.
func coeffsGrad(t float32) [4]float32 {
	const a = float32(A)
	outer := func(x float32) float32 { return (3*a*x-10*a)*x + 8*a }      // f2'(x)
	inner := func(x float32) float32 { return (3*(a+2)*x - 2*(a+3)) * x } // f1'(x)
	return [4]float32{outer(t + 1), inner(t), -inner(1 - t), -outer(2 - t)}
}

// sample writes one output row: out[c] = Σ_i wy_i·(Σ_j wx_j·T[i][j][c]); rbuf [4, C] is
// scratch. The sums are rounded the way GCC compiled PyTorch's `c0*v0 + c1*v1 + c2*v2 + c3*v3`
// in Debian's 1.13 AVX2 build (found by matching its outputs): along x the first product is
// fused into the first add and the rest are plain; along y every add after the first product
// is fused.
func sample(out, rbuf, table []float32, p *point, C int) {
	if sampleFast(out, table, p, C) {
		return
	}
	x0, x1, x2, x3 := p.wx[0], p.wx[1], p.wx[2], p.wx[3]
	for i := range 4 {
		r := rbuf[i*C : (i+1)*C]
		o := &p.off[i]
		t0 := table[o[0]*C : o[0]*C+len(r)]
		t1 := table[o[1]*C : o[1]*C+len(r)]
		t2 := table[o[2]*C : o[2]*C+len(r)]
		t3 := table[o[3]*C : o[3]*C+len(r)]
		for c := range r {
			v := fma32(x0, t0[c], float32(x1*t1[c]))
			v += float32(x2 * t2[c])
			r[c] = v + float32(x3*t3[c])
		}
	}
	y0, y1, y2, y3 := p.wy[0], p.wy[1], p.wy[2], p.wy[3]
	out = out[:C]
	r0, r1, r2, r3 := rbuf[:len(out)], rbuf[C:C+len(out)], rbuf[2*C:2*C+len(out)], rbuf[3*C:3*C+len(out)]
	for c := range out {
		v := fma32(y1, r1[c], float32(y0*r0[c]))
		v = fma32(y2, r2[c], v)
		out[c] = fma32(y3, r3[c], v)
	}
}

// scatterBlock is the number of points whose contributions scatter tap by tap: PyTorch's AVX2
// kernel adds one tap for 8 points (one vector) before the next tap, and this order reproduces
// its sums exactly where taps of different points land on the same table cell.
const scatterBlock = 8

// scatter adds the contributions of the points pts (point index n0 onward) to channels
// [c0, c1) of dtable: for each tap (column j outer, row i inner, as PyTorch) every point in
// order adds (dout·wx)·wy.
func scatter(dtable, dout []float32, pts []point, n0, C, c0, c1 int) {
	for j := range 4 {
		for i := range 4 {
			for k := range pts {
				p := &pts[k]
				n := n0 + k
				g := dout[n*C+c0 : n*C+c1]
				o := p.off[i][j]*C + c0
				d := dtable[o : o+len(g)]
				wx, wy := p.wx[j], p.wy[i]
				done := scatterFast(d, g, wx, wy)
				d, g = d[done:], g[done:]
				for c, v := range g {
					d[c] += float32(float32(v*wx) * wy)
				}
			}
		}
	}
}

// gridGrad is d(loss)/d(x, y) for one point: the derivative of the cubic weights times
// d(ix)/dx = W0/2, summed over channels in fp32.
func gridGrad(dout, table []float32, p *point, H0, W0, C int) (gx, gy float32) {
	dwx, dwy := coeffsGrad(p.tx), coeffsGrad(p.ty)
	for c, g := range dout[:C] {
		var sx, sy float32
		for i := range 4 {
			var rx, ry float32 // Σ_j dwx_j·T, Σ_j wx_j·T
			for j := range 4 {
				v := table[p.off[i][j]*C+c]
				rx += dwx[j] * v
				ry += p.wx[j] * v
			}
			sx += p.wy[i] * rx
			sy += dwy[i] * ry
		}
		gx += g * sx
		gy += g * sy
	}
	return gx * float32(W0) / 2, gy * float32(H0) / 2
}

type lenArg struct {
	name string
	s    []float32
	want int
}

func check(op string, H0, W0, C, N int, args ...lenArg) error {
	if H0 <= 0 || W0 <= 0 || C <= 0 || N < 0 {
		return fmt.Errorf("%s: bad dims H0=%d W0=%d C=%d N=%d", op, H0, W0, C, N)
	}
	for _, a := range args {
		if len(a.s) != a.want {
			return fmt.Errorf("%s: len(%s) = %d, want %d", op, a.name, len(a.s), a.want)
		}
	}
	return nil
}

// parallelMin is the work (elements touched) below which a loop runs inline.
const parallelMin = 1 << 16

// run calls f over [0, n) in contiguous pieces, in parallel when n·width (elements touched)
// reaches parallelMin. Each index is computed the same way whatever the split.
func run(n, width int, f func(lo, hi int)) { parallel.Range(n, 1, n*width, parallelMin, f) }
