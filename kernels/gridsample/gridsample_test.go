package gridsample

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	kt "github.com/glmflow/glmflow/kernels/internal/kerneltest"
)

// bounds holds per-element tolerance inputs computed in float64 from the definition.
type bounds struct {
	outMag, dtabMag, dgridMag []float64 // Σ|terms| of each out, dtable and dgrid element
	outErr, dtabErr, dgridErr []float64 // error carried in from the rounded weights
	dtabTerms                 []int     // number of terms summed into each dtable element
}

// Absolute rounding error of one fp32 cubic weight (and of its t-derivative): the Horner
// evaluation cancels intermediate terms up to 8|A| = 6, about 20 roundings of size ≤ 6·eps32;
// on top, the error of t itself (coordErr) times |w'| (≤ 1.5) or |w”| (≤ 4.5).
const weightErr = 24 * kt.Eps32

// coordErr bounds the float32 rounding of ix = (x+1)·(size/2) − 0.5: three roundings of
// values up to |ix| + size.
func coordErr(x float32, size int) float64 {
	return 3 * kt.Eps32 * (math.Abs(float64(x)+1)*float64(size)/2 + 1)
}

// magnitudes computes, per element, Σ|terms| (kt.Tol's mag) and the error the weights' own
// rounding carries into the element.
func magnitudes(table, grid, dout []float32, H0, W0, C, N int) bounds {
	b := bounds{
		outMag: make([]float64, N*C), dtabMag: make([]float64, H0*W0*C), dgridMag: make([]float64, 2*N),
		outErr: make([]float64, N*C), dtabErr: make([]float64, H0*W0*C), dgridErr: make([]float64, 2*N),
		dtabTerms: make([]int, H0*W0*C),
	}
	for n := range N {
		rows, cols, wy, wx, dwy, dwx := refTaps(float64(grid[2*n]), float64(grid[2*n+1]), H0, W0)
		ex, ey := coordErr(grid[2*n], W0), coordErr(grid[2*n+1], H0)
		sx, sy := float64(W0)/2, float64(H0)/2
		for i := range 4 {
			for j := range 4 {
				ax, ay, adx, ady := math.Abs(wx[j]), math.Abs(wy[i]), math.Abs(dwx[j]), math.Abs(dwy[i])
				dax, day := weightErr+adx*ex, weightErr+ady*ey // weight errors
				ddx, ddy := weightErr+4.5*ex, weightErr+4.5*ey // derivative errors
				w, we := ax*ay, ay*dax+ax*day
				gxw, gxe := ay*adx*sx, (ay*ddx+day*adx)*sx
				gyw, gye := ady*ax*sy, (ady*dax+ddy*ax)*sy
				o := (rows[i]*W0 + cols[j]) * C
				for c := range C {
					t, g := math.Abs(float64(table[o+c])), math.Abs(float64(dout[n*C+c]))
					b.outMag[n*C+c] += w * t
					b.outErr[n*C+c] += we * t
					b.dtabMag[o+c] += w * g
					b.dtabErr[o+c] += we * g
					b.dtabTerms[o+c]++
					b.dgridMag[2*n] += gxw * t * g
					b.dgridErr[2*n] += gxe * t * g
					b.dgridMag[2*n+1] += gyw * t * g
					b.dgridErr[2*n+1] += gye * t * g
				}
			}
		}
	}
	return b
}

// checkAll compares fp32 results with want* under tolerances from eps32 and reduction length.
// base is dtable's value before Backward (accumulation; nil: zeros).
func checkAll(t *testing.T, name string, H0, W0, C, N int, table, grid, dout, base, out, dtab, dgrid []float32,
	wantOut, wantDtab, wantDgrid []float64, c float64) {
	t.Helper()
	b := magnitudes(table, grid, dout, H0, W0, C, N)
	kt.Close(t, name+" out", out, wantOut, func(i int) float64 {
		return kt.Tol(c, 16, kt.Eps32, b.outMag[i], c*b.outErr[i])
	})
	kt.Close(t, name+" dtable", dtab, wantDtab, func(i int) float64 {
		mag := b.dtabMag[i]
		if base != nil {
			mag += math.Abs(float64(base[i]))
		}
		return kt.Tol(c, b.dtabTerms[i]+1, kt.Eps32, mag, c*b.dtabErr[i])
	})
	if dgrid != nil {
		kt.Close(t, name+" dgrid", dgrid, wantDgrid, func(i int) float64 {
			return kt.Tol(c, 16*C, kt.Eps32, b.dgridMag[i], c*b.dgridErr[i])
		})
	}
}

type golden struct {
	H0, W0, C, N                          int
	table, grid, dout, out, dtable, dgrid []float32
}

func readGolden(t *testing.T) ([]golden, string) {
	data, err := os.ReadFile("testdata/golden.bin")
	if err != nil {
		t.Fatal(err)
	}
	r := bytes.NewReader(data)
	var magic [4]byte
	var count int32
	if _, err := r.Read(magic[:]); err != nil || string(magic[:]) != "GSG1" {
		t.Fatalf("golden.bin: bad magic %q", magic)
	}
	must := func(v any) {
		if err := binary.Read(r, binary.LittleEndian, v); err != nil {
			t.Fatalf("golden.bin: %v", err)
		}
	}
	must(&count)
	var cases []golden
	for range count {
		var d [4]int32
		must(&d)
		g := golden{H0: int(d[0]), W0: int(d[1]), C: int(d[2]), N: int(d[3])}
		arr := func(n int) []float32 { a := make([]float32, n); must(a); return a }
		tn, gn, on := g.H0*g.W0*g.C, 2*g.N, g.N*g.C
		g.table, g.grid, g.dout, g.out, g.dtable, g.dgrid = arr(tn), arr(gn), arr(on), arr(on), arr(tn), arr(gn)
		cases = append(cases, g)
	}
	var vl int32
	must(&vl)
	v := make([]byte, vl)
	must(v)
	return cases, string(v)
}

// TestGoldenPyTorch compares with F.grid_sample outputs and autograd gradients written by
// testdata/gen_golden.py.
func TestGoldenPyTorch(t *testing.T) {
	cases, ver := readGolden(t)
	t.Logf("golden from torch %s, %d cases", ver, len(cases))
	for k, g := range cases {
		name := kt.Shape(g.H0, g.W0, g.C, g.N)
		out := make([]float32, g.N*g.C)
		kt.Poison(out)
		if err := Forward(out, g.table, g.grid, g.H0, g.W0, g.C, g.N); err != nil {
			t.Fatal(err)
		}
		dtab := make([]float32, len(g.table))
		dgrid := make([]float32, 2*g.N)
		kt.Poison(dgrid)
		if err := Backward(dtab, dgrid, g.dout, g.table, g.grid, g.H0, g.W0, g.C, g.N); err != nil {
			t.Fatal(err)
		}
		// PyTorch's fp32 result is the reference here; the bound is the same eps-derived one
		// (both sides round), doubled.
		checkAll(t, "torch "+name, g.H0, g.W0, g.C, g.N, g.table, g.grid, g.dout, nil, out, dtab, dgrid,
			kt.F64(g.out), kt.F64(g.dtable), kt.F64(g.dgrid), 8)
		so, sd := same(out, g.out), same(dtab, g.dtable)
		t.Logf("%s: bit-identical to torch: out %d/%d, dtable %d/%d", name, so, len(out), sd, len(dtab))
		// On patch grids (the GLM-4.5V use) the kernel reproduces Debian's torch 1.13 AVX2 build
		// bit for bit; other builds may contract FMAs differently.
		if k < 3 && strings.HasPrefix(ver, "1.13") && (so != len(out) || sd != len(dtab)) {
			t.Errorf("%s: not bit-identical to torch %s on a patch grid", name, ver)
		}
	}
}

func same(a, b []float32) int {
	n := 0
	for i := range a {
		if a[i] == b[i] {
			n++
		}
	}
	return n
}

type shape struct{ H0, W0, C, N int }

var shapes = []shape{{24, 24, 5, 37}, {5, 7, 3, 60}, {1, 4, 2, 9}, {3, 1, 2, 9}, {1, 1, 3, 5}, {36, 36, 17, 100}}

func randomInputs(s shape, seed uint64) (table, grid, dout []float32) {
	r := kt.RNG(seed)
	table = kt.Normal(r, s.H0*s.W0*s.C, 1)
	grid = kt.Uniform(r, 2*s.N, -1.3, 1.3)
	dout = kt.Normal(r, s.N*s.C, 1)
	return
}

// TestVsReference compares Forward and Backward (d(table) accumulated onto a nonzero base,
// d(grid)) with the float64 reference.
func TestVsReference(t *testing.T) {
	for k, s := range shapes {
		table, grid, dout := randomInputs(s, uint64(k))
		out := make([]float32, s.N*s.C)
		kt.Poison(out)
		if err := Forward(out, table, grid, s.H0, s.W0, s.C, s.N); err != nil {
			t.Fatal(err)
		}
		base := kt.Normal(kt.RNG(100+uint64(k)), len(table), 1)
		dtab := slices.Clone(base)
		dgrid := make([]float32, 2*s.N)
		kt.Poison(dgrid)
		if err := Backward(dtab, dgrid, dout, table, grid, s.H0, s.W0, s.C, s.N); err != nil {
			t.Fatal(err)
		}
		wantOut := make([]float64, s.N*s.C)
		RefForward(wantOut, kt.F64(table), kt.F64(grid), s.H0, s.W0, s.C, s.N)
		wantDtab := kt.F64(base)
		wantDgrid := make([]float64, 2*s.N)
		RefBackward(wantDtab, wantDgrid, kt.F64(dout), kt.F64(table), kt.F64(grid), s.H0, s.W0, s.C, s.N)
		checkAll(t, kt.Shape(s.H0, s.W0, s.C, s.N), s.H0, s.W0, s.C, s.N, table, grid, dout, base, out, dtab, dgrid,
			wantOut, wantDtab, wantDgrid, 4)
	}
}

// TestRefGradCheck checks the float64 reference's backward against finite differences of
// L = Σ out·w, for the table and the grid.
func TestRefGradCheck(t *testing.T) {
	for k, s := range shapes[:5] {
		table32, grid32, w32 := randomInputs(s, 10+uint64(k))
		table, grid, w := kt.F64(table32), kt.F64(grid32), kt.F64(w32)
		out := make([]float64, s.N*s.C)
		loss := func(tab, g []float64) float64 {
			RefForward(out, tab, g, s.H0, s.W0, s.C, s.N)
			return kt.Dot64(out, w)
		}
		dtab := make([]float64, len(table))
		dgrid := make([]float64, len(grid))
		RefBackward(dtab, dgrid, w, table, grid, s.H0, s.W0, s.C, s.N)
		name := kt.Shape(s.H0, s.W0, s.C, s.N)
		kt.GradCheck(t, name+" dtable", table, dtab, func(x []float64) float64 { return loss(x, grid) }, 1e-6, 1e-6, 1e-8, 300)
		kt.GradCheck(t, name+" dgrid", grid, dgrid, func(x []float64) float64 { return loss(table, x) }, 1e-6, 1e-5, 1e-7, 0)
	}
}

// TestIdentity: sampling a table at its own patch centres returns the table (glm45v.md §2.2
// sanity check), up to the rounding of the coordinates.
func TestIdentity(t *testing.T) {
	const H0, W0, C = 24, 24, 4
	table := kt.Normal(kt.RNG(7), H0*W0*C, 1)
	grid := make([]float32, 0, 2*H0*W0)
	for h := range H0 {
		for w := range W0 {
			grid = append(grid, Coord(w, W0), Coord(h, H0))
		}
	}
	out := make([]float32, H0*W0*C)
	if err := Forward(out, table, grid, H0, W0, C, H0*W0); err != nil {
		t.Fatal(err)
	}
	kt.Close(t, "identity", out, kt.F64(table), func(i int) float64 {
		return kt.Tol(4, 16, kt.Eps32, 2, 0) + 100*kt.Eps32*math.Abs(float64(table[i]))
	})
}

// TestThreadInvariant: results are bitwise equal with 1 and 2 threads on inputs big enough
// to be split.
func TestThreadInvariant(t *testing.T) {
	s := shape{24, 24, 64, 2000}
	table, grid, dout := randomInputs(s, 3)
	runAll := func() ([]float32, []float32, []float32) {
		out := make([]float32, s.N*s.C)
		dtab := make([]float32, len(table))
		dgrid := make([]float32, 2*s.N)
		if err := Forward(out, table, grid, s.H0, s.W0, s.C, s.N); err != nil {
			t.Fatal(err)
		}
		if err := Backward(dtab, dgrid, dout, table, grid, s.H0, s.W0, s.C, s.N); err != nil {
			t.Fatal(err)
		}
		return out, dtab, dgrid
	}
	prev := runtime.GOMAXPROCS(1)
	o1, t1, g1 := runAll()
	runtime.GOMAXPROCS(max(2, prev))
	o2, t2, g2 := runAll()
	runtime.GOMAXPROCS(prev)
	if !slices.Equal(o1, o2) || !slices.Equal(t1, t2) || !slices.Equal(g1, g2) {
		t.Error("results depend on the thread count")
	}
}

// TestBackwardOptional: d(table) alone (no table, no dgrid) and d(grid) alone.
func TestBackwardOptional(t *testing.T) {
	s := shapes[0]
	table, grid, dout := randomInputs(s, 5)
	full := make([]float32, len(table))
	fullG := make([]float32, 2*s.N)
	if err := Backward(full, fullG, dout, table, grid, s.H0, s.W0, s.C, s.N); err != nil {
		t.Fatal(err)
	}
	only := make([]float32, len(table))
	if err := Backward(only, nil, dout, nil, grid, s.H0, s.W0, s.C, s.N); err != nil {
		t.Fatal(err)
	}
	onlyG := make([]float32, 2*s.N)
	if err := Backward(nil, onlyG, dout, table, grid, s.H0, s.W0, s.C, s.N); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(full, only) || !slices.Equal(fullG, onlyG) {
		t.Error("optional outputs change the results")
	}
}

func TestErrors(t *testing.T) {
	s := shapes[1]
	table, grid, dout := randomInputs(s, 1)
	out := make([]float32, s.N*s.C)
	bad := []error{
		Forward(out[1:], table, grid, s.H0, s.W0, s.C, s.N),
		Forward(out, table[1:], grid, s.H0, s.W0, s.C, s.N),
		Forward(out, table, grid[1:], s.H0, s.W0, s.C, s.N),
		Forward(out, table, grid, 0, s.W0, s.C, s.N),
		Backward(make([]float32, 3), nil, dout, nil, grid, s.H0, s.W0, s.C, s.N),
		Backward(nil, make([]float32, 2*s.N), dout, nil, grid, s.H0, s.W0, s.C, s.N),
		Backward(nil, nil, dout[1:], nil, grid, s.H0, s.W0, s.C, s.N),
	}
	for i, err := range bad {
		if err == nil {
			t.Errorf("case %d: no error", i)
		}
	}
	if err := Forward(nil, table, nil, s.H0, s.W0, s.C, 0); err != nil {
		t.Errorf("N=0: %v", err)
	}
}

// TestAssemblyMatchesGo: the AVX-512 loops (C a multiple of 16) give the Go loops' bits, for
// Forward and for d(table) (whose channel split under threads leaves ragged pieces too), on a
// patch grid like the vision tower's and on random points.
func TestAssemblyMatchesGo(t *testing.T) {
	if !useAVX512 {
		t.Skip("no AVX-512 on this machine")
	}
	defer func() { useAVX512 = true }()
	for k, s := range []shape{{16, 16, 32, 256}, {24, 24, 48, 300}, {5, 7, 64, 77}} {
		table, grid, dout := randomInputs(s, uint64(50+k))
		if k == 0 { // the vision tower's case: a 16×16 patch grid on a 16×16 table
			grid = grid[:0]
			for h := range 16 {
				for w := range 16 {
					grid = append(grid, Coord(w, 16), Coord(h, 16))
				}
			}
		}
		var outs, dtabs [2][]float32
		for v, asm := range []bool{false, true} {
			useAVX512 = asm
			outs[v] = make([]float32, s.N*s.C)
			kt.Poison(outs[v])
			if err := Forward(outs[v], table, grid, s.H0, s.W0, s.C, s.N); err != nil {
				t.Fatal(err)
			}
			dtabs[v] = kt.Normal(kt.RNG(99), len(table), 1)
			old := runtime.GOMAXPROCS(3) // channel pieces of 16, 16, 16+ (not all multiples of 16)
			err := Backward(dtabs[v], nil, dout, nil, grid, s.H0, s.W0, s.C, s.N)
			runtime.GOMAXPROCS(old)
			if err != nil {
				t.Fatal(err)
			}
		}
		for name, p := range map[string][2][]float32{"out": outs, "dtable": dtabs} {
			for i := range p[0] {
				if math.Float32bits(p[0][i]) != math.Float32bits(p[1][i]) {
					t.Fatalf("%v %s[%d]: assembly %g, Go %g", s, name, i, p[1][i], p[0][i])
				}
			}
		}
	}
}

// BenchmarkForward: GLM-4.5V shape, 24×24×1536 table sampled at a 32×32 patch grid. The Go
// loop alternates with the AVX-512 one in the same run; x_go is its time over theirs.
func BenchmarkForward(b *testing.B) { benchGLM(b, false) }

// BenchmarkBackward: d(table) only, as in training; x_go as in BenchmarkForward.
func BenchmarkBackward(b *testing.B) { benchGLM(b, true) }

func benchGLM(b *testing.B, backward bool) {
	const H0, W0, C, H, W = 24, 24, 1536, 32, 32
	N := H * W
	table := kt.Normal(kt.RNG(1), H0*W0*C, 1)
	grid := make([]float32, 0, 2*N)
	for h := range H {
		for w := range W {
			grid = append(grid, Coord(w, W), Coord(h, H))
		}
	}
	out := make([]float32, N*C)
	dtab := make([]float32, H0*W0*C)
	run := func() {
		var err error
		if backward {
			err = Backward(dtab, nil, out, nil, grid, H0, W0, C, N)
		} else {
			err = Forward(out, table, grid, H0, W0, C, N)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	asm := useAVX512
	defer func() { useAVX512 = asm }()
	var tFast, tGo time.Duration
	for b.Loop() {
		t0 := time.Now()
		run()
		t1 := time.Now()
		useAVX512 = false
		run()
		useAVX512 = asm
		tFast, tGo = tFast+t1.Sub(t0), tGo+time.Since(t1)
	}
	sec := tFast.Seconds() / float64(b.N)
	b.ReportMetric(float64(N*C)*31/sec/1e9, "GFLOP/s")
	b.ReportMetric(float64(N*C)*4/sec/1e9, "GB/s_out")
	b.ReportMetric(tGo.Seconds()/tFast.Seconds(), "x_go")
}
