package schedule

import (
	"math"
	"testing"
)

// TestSimulateCoresEnoughCores: with a core per rank, processor sharing changes nothing.
func TestSimulateCoresEnoughCores(t *testing.T) {
	c := Costs{F: []float64{1, 1.5, 0.7, 1.2}, B: []float64{1.1, 2, 1, 1.3}, W: []float64{0.5, 0.4, 0.6, 0.9}, Comm: 0.05, Step: 0.3}
	for _, name := range []string{"gpipe", "1f1b", "zb-h1"} {
		s, err := New(name, 4, 8, 1)
		if err != nil {
			t.Fatal(err)
		}
		want, err := Simulate(s, c)
		if err != nil {
			t.Fatal(err)
		}
		for _, cores := range []float64{4, 8} {
			got, err := SimulateCores(s, c, cores)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got.Makespan-want.Makespan) > 1e-9 || math.Abs(got.Bubble-want.Bubble) > 1e-9 {
				t.Errorf("%s, %v cores: makespan %v bubble %v, Simulate %v %v", name, cores, got.Makespan, got.Bubble, want.Makespan, want.Bubble)
			}
		}
	}
}

// TestSimulateCoresOneCore: on one core the ranks' work is serialised, so the makespan is at
// least the total work; a work-conserving share never idles the core while work is ready.
func TestSimulateCoresOneCore(t *testing.T) {
	for _, name := range []string{"gpipe", "1f1b", "zb-h1"} {
		s, _ := New(name, 4, 8, 1)
		c := Uniform(1, 1, 1)
		got, err := SimulateCores(s, c, 1)
		if err != nil {
			t.Fatal(err)
		}
		total := float64(3 * 4 * 8) // F+B+W per (stage, mb)
		if got.Makespan < total-1e-9 {
			t.Errorf("%s: makespan %v below the total work %v", name, got.Makespan, total)
		}
		full, _ := Simulate(s, c)
		if got.Makespan > full.Makespan*4+1e-9 {
			t.Errorf("%s: makespan %v, more than 4× the 4-core %v", name, got.Makespan, full.Makespan)
		}
	}
}

// TestSimulateCoresTwoOfFour: 4 ranks on 2 cores, uniform costs: the steady phase shares the
// cores, so the makespan is at least half the total work and the bubble shrinks below the
// dedicated-core one (time-sliced ranks look busy while they wait for a core).
func TestSimulateCoresTwoOfFour(t *testing.T) {
	s, _ := New("1f1b", 4, 8, 1)
	c := Uniform(1, 1, 1)
	got, err := SimulateCores(s, c, 2)
	if err != nil {
		t.Fatal(err)
	}
	full, _ := Simulate(s, c)
	if got.Makespan < 3*4*8/2.0-1e-9 || !(got.Bubble < full.Bubble) {
		t.Errorf("2 cores: makespan %v bubble %v; 4 cores %v %v", got.Makespan, got.Bubble, full.Makespan, full.Bubble)
	}
}
