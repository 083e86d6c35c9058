package gpucheck

import (
	"math/rand/v2"

	"errors"
	"github.com/glmflow/glmflow/kernels/internal/kerneltest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glmflow/glmflow/kernels/cpu"
	"github.com/glmflow/glmflow/tensors"
)

// TestDifferentialSelf runs the whole differential harness with the CPU backend on both sides:
// every row must pass (the harness's shapes, poisoning and tolerances are consistent).
func TestDifferentialSelf(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every op group twice on the CPU (a few seconds)")
	}
	r := NewReport("")
	if err := Differential(cpu.New(), cpu.New(), 1, r); err != nil {
		t.Fatalf("%v\n%s", err, r)
	}
	if n := strings.Count(r.String(), "| ok |"); n < 80 {
		t.Fatalf("only %d rows compared:\n%s", n, r)
	}
}

// broken is the CPU backend with one wrong element in SiLU and an AdamW that does nothing.
type broken struct{ *cpu.Backend }

func (b broken) SiLU(out, x *tensors.Tensor) error {
	err := b.Backend.SiLU(out, x)
	out.F32()[777] += 1e-3
	return err
}

// TestDifferentialCatches: a single wrong element fails the comparison, naming op and index.
func TestDifferentialCatches(t *testing.T) {
	r := NewReport("")
	d := &diff{gpu: broken{cpu.New()}, cpu: cpu.New(), rng: nil, r: r}
	d.rng = newRNG(3)
	opsPointwise(d)
	if d.err != nil {
		t.Fatal(d.err)
	}
	if d.bad != 1 {
		t.Fatalf("%d bad rows, want 1:\n%s", d.bad, strings.Join(d.rows, "\n"))
	}
	var row string
	for _, x := range d.rows {
		if strings.HasPrefix(x, "| SiLU |") {
			row = x
		}
	}
	if !strings.Contains(row, "**FAIL** at [777]") {
		t.Fatalf("row %q", row)
	}
}

// lazy is the CPU backend with a SiLU that writes nothing.
type lazy struct{ *cpu.Backend }

func (lazy) SiLU(out, x *tensors.Tensor) error { return nil }

// TestUnwrittenOutputFails: an op that leaves its (poisoned) output untouched fails.
func TestUnwrittenOutputFails(t *testing.T) {
	d := &diff{gpu: lazy{cpu.New()}, cpu: cpu.New(), rng: newRNG(4), r: NewReport("")}
	o := d.out(4, 4)
	x := d.rand(-1, 1, 4, 4)
	d.run("SiLU", func(k be, s sel) error { return k.SiLU(s(o), s(x)) })
	d.check("SiLU", o, fp32(1))
	if d.bad != 1 {
		t.Fatalf("unwritten output passed: %v", d.rows)
	}
}

func TestConformanceRunner(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the conformance suite")
	}
	out, ok := runSuite(cpu.New())
	if !ok {
		t.Fatalf("cpu backend failed the suite:\n%s", out)
	}
}

func TestSectionsReport(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.md")
	r := NewReport(path)
	n := RunSections(r, []Section{
		{"good", func(r *Report) error { r.Printf("fine\n"); return nil }},
		{"bad", func(r *Report) error { return errors.New("boom") }},
		{"panics", func(r *Report) error { var m map[string]int; m["x"] = 1; return nil }},
	})
	if n != 2 {
		t.Fatalf("%d failures", n)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{"## good", "fine", "**FAIL** boom", "panic: assignment to entry in nil map", "2 failure(s)"} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
}

func newRNG(seed uint64) *rand.Rand { return kerneltest.RNG(seed) }
