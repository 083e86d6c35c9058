package gpucheck

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/kernels/backendtest"
	"github.com/glmflow/glmflow/kernels/cuda"
	"github.com/glmflow/glmflow/kernels/cuda/gpuinfo"
	"github.com/glmflow/glmflow/kernels/internal/kerneltest"
	"github.com/glmflow/glmflow/tensors"
)

// PeakBF16 is the dense bf16 tensor-core peak of an H100/H200 SXM in TFLOP/s.
const PeakBF16 = 989.0

// DeviceSection prints what discovery finds.
func DeviceSection() Section {
	return Section{"Device", func(r *Report) error {
		rep, err := gpuinfo.Discover()
		if err != nil {
			for _, n := range rep.Notes {
				r.Printf("- %s\n", n)
			}
			r.Printf("\n")
			return err
		}
		var b strings.Builder
		rep.Write(&b)
		r.Printf("```\n%s```\n\n", b.String())
		return nil
	}}
}

// ConformanceSection runs kernels/backendtest on be (the suite every backend passes, against
// float64 references) and prints its failures.
func ConformanceSection(be kernels.Backend) Section {
	return Section{"Conformance suite (kernels/backendtest)", func(r *Report) error {
		out, ok := runSuite(be)
		if out != "" {
			r.Printf("```\n%s```\n\n", out)
		}
		if !ok {
			return fmt.Errorf("backendtest failed on %s", be.Name())
		}
		r.Printf("passed\n\n")
		return nil
	}}
}

var testingInit sync.Once

// runSuite runs backendtest.Run through testing.RunTests, capturing what it prints.
func runSuite(be kernels.Backend) (string, bool) {
	testingInit.Do(testing.Init)
	pr, pw, err := os.Pipe()
	if err != nil {
		return err.Error(), false
	}
	stdout := os.Stdout
	os.Stdout = pw
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(pr)
		done <- string(b)
	}()
	ok := testing.RunTests(func(string, string) (bool, error) { return true, nil },
		[]testing.InternalTest{{Name: "Conformance", F: func(t *testing.T) { backendtest.Run(t, be) }}})
	os.Stdout = stdout
	pw.Close()
	return <-done, ok
}

// OpsSection compares every op of gpu with cpu on fresh random inputs from seed.
func OpsSection(gpu, cpu kernels.Backend, seed uint64) Section {
	return Section{"Ops: CUDA vs CPU backend", func(r *Report) error {
		return Differential(gpu, cpu, seed, r)
	}}
}

// Differential runs every op group on gpu and cpu with the same random inputs (seed) and
// writes one table row per compared output. It returns an error naming the failed rows' count
// or the first op error.
func Differential(gpu, cpu kernels.Backend, seed uint64, r *Report) error {
	r.Printf("seed %d; every output NaN-poisoned before the op, every element compared: |cuda − cpu| ≤ abs + rel·|cpu| (fp32: 32·ε·√k for reductions of length k; bf16 attention tiles: 2⁻⁸·4).\n\n", seed)
	r.Printf("| output | shape | elements | max err/tol | tolerance | result |\n|---|---|---|---|---|---|\n")
	bad := 0
	var errs []string
	for i, g := range opGroups {
		d := &diff{gpu: gpu, cpu: cpu, rng: kerneltest.RNG(seed + uint64(i)), r: r}
		g.f(d)
		for _, row := range d.rows {
			r.Printf("%s\n", row)
		}
		bad += d.bad
		if d.err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", g.name, d.err))
			r.Printf("| %s | | | | | **ERROR** %v |\n", g.name, d.err)
		}
	}
	r.Printf("\n")
	if bad > 0 || len(errs) > 0 {
		return fmt.Errorf("%d output(s) out of tolerance; %d group error(s): %s", bad, len(errs), strings.Join(errs, "; "))
	}
	return nil
}

// GEMMSection times the bf16 GEMM C[n,n] (fp32) = A[n,n]·B[n,n]ᵀ on the CUDA backend with
// CUDA events, reps times after a warm-up, against peak TFLOP/s.
func GEMMSection(be *cuda.Backend, n, reps int, peak float64) Section {
	return Section{fmt.Sprintf("bf16 GEMM %d³", n), func(r *Report) error {
		a, err := be.Alloc(tensors.BF16, n, n)
		if err != nil {
			return err
		}
		b, err := be.Alloc(tensors.BF16, n, n)
		if err != nil {
			return err
		}
		c, err := be.Alloc(tensors.F32, n, n)
		if err != nil {
			return err
		}
		defer func() { a.Storage().Release(); b.Storage().Release(); c.Storage().Release() }()
		run := func() error { return be.Matmul(c, a, b, kernels.MatmulOpts{TransB: true}) }
		ms, err := Time(be, 2, reps, run)
		if err != nil {
			return err
		}
		tf := 2 * math.Pow(float64(n), 3) / (ms / 1e3) / 1e12
		r.Printf("%d reps: median %.3f ms, **%.0f TFLOP/s** = %.0f%% of the %.0f TFLOP/s bf16 dense peak (cuBLAS, fp32 output, CUBLAS_COMPUTE_32F)\n\n",
			reps, ms, tf, 100*tf/peak, peak)
		return nil
	}}
}

// Time runs f warm times, then reps times each between two events on the backend's stream,
// and returns the median milliseconds.
func Time(be *cuda.Backend, warm, reps int, f func() error) (float64, error) {
	for range warm {
		if err := f(); err != nil {
			return 0, err
		}
	}
	if err := be.Sync(); err != nil {
		return 0, err
	}
	var ms []float64
	for range reps {
		t, err := timeOnce(be, f)
		if err != nil {
			return 0, err
		}
		ms = append(ms, t)
	}
	return median(ms), nil
}

func timeOnce(be *cuda.Backend, f func() error) (float64, error) { return be.Elapsed(f) }

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}
