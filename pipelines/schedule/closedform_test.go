package schedule

import (
	"fmt"
	"math"
	"testing"
)

const tol = 1e-9

func mustSim(t testing.TB, s Schedule, c Costs) *Result {
	t.Helper()
	r, err := Simulate(s, c)
	if err != nil {
		t.Fatalf("%s p=%d m=%d v=%d: %v", s.Name, s.P, s.M, s.V, err)
	}
	return r
}

func near(a, b float64) bool { return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) }

// TestPerformanceAnchors reproduces the schedule table of docs/performance.md (p = 4,
// F = B = W = 1 per rank, bubble share at m = 8 and 16, peak in-flight activations).
func TestPerformanceAnchors(t *testing.T) {
	const p = 4
	for _, tc := range []struct {
		name     string
		v        int
		bubble8  string
		bubble16 string
		peak     func(m int) float64 // rank 0, units of one micro-batch through one rank's layers
	}{
		{"gpipe", 1, "27.3%", "15.8%", func(m int) float64 { return float64(m) }},
		{"1f1b", 1, "27.3%", "15.8%", func(int) float64 { return p }},
		{"interleaved-1f1b", 2, "15.8%", "8.6%", func(int) float64 { return p + float64(p-1)/2 }},
		{"zb-h1", 1, "11.1%", "5.9%", func(int) float64 { return p }},
	} {
		for _, m := range []int{8, 16} {
			s, err := New(tc.name, p, m, tc.v)
			if err != nil {
				t.Fatal(err)
			}
			per := 1 / float64(tc.v) // a chunk is 1/v of a rank's layers
			r := mustSim(t, s, Uniform(per, per, per))
			want := tc.bubble8
			if m == 16 {
				want = tc.bubble16
			}
			if got := fmt.Sprintf("%.1f%%", 100*r.Bubble); got != want {
				t.Errorf("%s m=%d: bubble %s, performance.md says %s", tc.name, m, got, want)
			}
			if got := r.PeakStageUnits(0, tc.v); !near(got, tc.peak(m)) {
				t.Errorf("%s m=%d: rank-0 peak activations %v, want %v", tc.name, m, got, tc.peak(m))
			}
		}
	}
}

type costCase struct{ f, b, w float64 }

var costCases = []costCase{{1, 1, 1}, {1, 2, 1}, {2, 1, 1}, {1, 1, 0.5}, {1, 1.5, 0.5}, {0.75, 1.25, 0.25}}

// TestClosedFormGPipe1F1B: with no communication latency GPipe and 1F1B both take
// m(F+B+W) + (p−1)(F+B+W) (Huang et al.; Narayanan et al.), so the bubble share is
// (p−1)/(m+p−1) for any per-stage costs, and rank r holds at most min(p−r, m) (1F1B) or m
// (GPipe) micro-batches.
func TestClosedFormGPipe1F1B(t *testing.T) {
	for _, name := range []string{"gpipe", "1f1b"} {
		for p := 1; p <= 8; p++ {
			for _, m := range []int{1, 2, 3, p, p + 1, 2 * p, 3*p + 1, 32} {
				for _, c := range costCases {
					s, err := New(name, p, m, 1)
					if err != nil {
						t.Fatal(err)
					}
					r := mustSim(t, s, Uniform(c.f, c.b, c.w))
					sum := c.f + c.b + c.w
					want := float64(m+p-1) * sum
					if !near(r.Makespan, want) {
						t.Fatalf("%s p=%d m=%d %+v: makespan %v, want %v", name, p, m, c, r.Makespan, want)
					}
					if wb := float64(p-1) / float64(m+p-1); !near(r.Bubble, wb) {
						t.Fatalf("%s p=%d m=%d: bubble %v, want %v", name, p, m, r.Bubble, wb)
					}
					if wi := float64(p-1) / float64(m); !near(r.IdleOverBusy, wi) {
						t.Fatalf("%s p=%d m=%d: idle/busy %v, want (p−1)/m = %v", name, p, m, r.IdleOverBusy, wi)
					}
					for rank, pk := range r.PeakActivations {
						want := m
						if name == "1f1b" {
							want = min(p-rank, m)
						}
						if pk != want {
							t.Fatalf("%s p=%d m=%d rank %d: peak %d, want %d", name, p, m, rank, pk, want)
						}
					}
				}
			}
		}
	}
}

// TestClosedFormGPipeComm: GPipe's fill and drain each cross p−1 links, so a latency c adds
// 2(p−1)c to the makespan.
func TestClosedFormGPipeComm(t *testing.T) {
	for p := 2; p <= 6; p++ {
		for _, m := range []int{1, 4, 9} {
			for _, comm := range []float64{0.1, 0.5, 2} {
				s, _ := GPipe(p, m)
				c := Uniform(1, 2, 1)
				c.Comm = comm
				r := mustSim(t, s, c)
				want := float64(m+p-1)*4 + 2*float64(p-1)*comm
				if !near(r.Makespan, want) {
					t.Fatalf("gpipe p=%d m=%d comm=%v: makespan %v, want %v", p, m, comm, r.Makespan, want)
				}
			}
		}
	}
}

// TestClosedFormInterleaved: with per-chunk costs f, b, w Megatron's interleaved schedule takes
// v·m(f+b+w) + (p−1)(f+b+w); with chunk costs 1/v of a rank's, the bubble share is
// (p−1)/(v·m+p−1) and idle/busy is (p−1)/(v·m) (Narayanan et al. SC'21, §2.2). Rank 0's peak is
// v·p + p − 1 chunk activations when m > p and all v·m when m = p.
func TestClosedFormInterleaved(t *testing.T) {
	for p := 2; p <= 8; p++ {
		for v := 2; v <= 4; v++ {
			for _, k := range []int{1, 2, 3, 5} {
				m := k * p
				for _, c := range costCases {
					s, err := Interleaved1F1B(p, m, v)
					if err != nil {
						t.Fatal(err)
					}
					r := mustSim(t, s, Uniform(c.f, c.b, c.w))
					sum := c.f + c.b + c.w
					if want := float64(v*m+p-1) * sum; !near(r.Makespan, want) {
						t.Fatalf("p=%d m=%d v=%d %+v: makespan %v, want %v", p, m, v, c, r.Makespan, want)
					}
					if wb := float64(p-1) / float64(v*m+p-1); !near(r.Bubble, wb) {
						t.Fatalf("p=%d m=%d v=%d: bubble %v, want %v", p, m, v, r.Bubble, wb)
					}
					if wi := float64(p-1) / float64(v*m); !near(r.IdleOverBusy, wi) {
						t.Fatalf("p=%d m=%d v=%d: idle/busy %v, want %v", p, m, v, r.IdleOverBusy, wi)
					}
					wantPeak := v*p + p - 1
					if m == p {
						wantPeak = v * m
					}
					if r.PeakActivations[0] != wantPeak {
						t.Fatalf("p=%d m=%d v=%d: rank-0 peak %d, want %d", p, m, v, r.PeakActivations[0], wantPeak)
					}
				}
			}
		}
	}
}

// TestClosedFormZBH1: for m ≥ p and W ≤ min(F, B), ZB-H1 takes m(F+B+W) + (p−1)(F+B−W) (Qi et
// al., §3.1), so its idle is (F+B−W)/(F+B+W) of 1F1B's — one third when F = B = W — and every
// rank holds at most p micro-batches (1F1B's rank-0 peak).
func TestClosedFormZBH1(t *testing.T) {
	for p := 1; p <= 8; p++ {
		for _, m := range []int{p, p + 1, 2 * p, 3*p + 2, 32} {
			for _, c := range costCases {
				if c.w > min(c.f, c.b) {
					continue
				}
				zb, err := ZBH1(p, m)
				if err != nil {
					t.Fatal(err)
				}
				ob, _ := OneFOneB(p, m)
				rz := mustSim(t, zb, Uniform(c.f, c.b, c.w))
				ro := mustSim(t, ob, Uniform(c.f, c.b, c.w))
				sum := c.f + c.b + c.w
				if want := float64(m)*sum + float64(p-1)*(c.f+c.b-c.w); !near(rz.Makespan, want) {
					t.Fatalf("zb-h1 p=%d m=%d %+v: makespan %v, want %v", p, m, c, rz.Makespan, want)
				}
				if p > 1 {
					idleZ := float64(p)*rz.Makespan - float64(p*m)*sum
					idleO := float64(p)*ro.Makespan - float64(p*m)*sum
					if want := (c.f + c.b - c.w) / sum; !near(idleZ/idleO, want) {
						t.Fatalf("zb-h1 p=%d m=%d %+v: idle ratio to 1f1b %v, want %v", p, m, c, idleZ/idleO, want)
					}
				}
				for rank, pk := range rz.PeakActivations {
					if pk != p {
						t.Fatalf("zb-h1 p=%d m=%d rank %d: peak %d, want p", p, m, rank, pk)
					}
				}
			}
		}
	}
}

// TestZBH1SmallM: with fewer micro-batches than ranks ZB-H1 has no closed form here, but it can
// never be slower than 1F1B, which runs the same F/B order with W fused into B.
func TestZBH1SmallM(t *testing.T) {
	for p := 2; p <= 8; p++ {
		for m := 1; m < p; m++ {
			zb, _ := ZBH1(p, m)
			ob, _ := OneFOneB(p, m)
			for _, c := range costCases {
				rz := mustSim(t, zb, Uniform(c.f, c.b, c.w))
				ro := mustSim(t, ob, Uniform(c.f, c.b, c.w))
				if rz.Makespan > ro.Makespan+tol {
					t.Fatalf("p=%d m=%d %+v: zb-h1 %v slower than 1f1b %v", p, m, c, rz.Makespan, ro.Makespan)
				}
				for rank, pk := range rz.PeakActivations {
					if pk > min(p, m) {
						t.Fatalf("p=%d m=%d rank %d: peak %d > min(p, m)", p, m, rank, pk)
					}
				}
			}
		}
	}
}
