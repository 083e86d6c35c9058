package moe

import (
	"fmt"
	"github.com/glmflow/glmflow/kernels/internal/parallel"
	"testing"
	"time"

	"github.com/glmflow/glmflow/kernels/gemm"
)

// Benchmark shapes: the tiny text model's MoE layer and a GLM-like slice.
var benchShapes = []struct {
	name    string
	T, D, F int
	cfg     RouterConfig
}{
	{"tiny_T1024_D256_E8k2_F256", 1024, 256, 256, RouterConfig{E: 8, K: 2, NormTopK: true, Scale: 1}},
	{"glm_T512_D1024_E32k8_F352", 512, 1024, 352, RouterConfig{E: 32, K: 8, NormTopK: true, Scale: 1}},
}

// single runs the benchmark body with one worker here and in gemm.
func single(b *testing.B, f func(b *testing.B)) {
	prevW := parallel.SetMaxWorkers(1)
	prevG := gemm.SetThreads(1)
	defer func() { parallel.SetMaxWorkers(prevW); gemm.SetThreads(prevG) }()
	f(b)
}

func gflops(b *testing.B, flops float64) {
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkMoELayer: router + permute + grouped gate_up GEMM + (local) SwiGLU + grouped down
// GEMM + unpermute, forward and backward, single-threaded. GFLOP/s counts the GEMM flops only:
// 3 × (2·T·D·E + 2·R·2F·D + 2·R·F·D), R = T·k.
func BenchmarkMoELayer(b *testing.B) {
	for _, s := range benchShapes {
		b.Run(s.name, func(b *testing.B) {
			single(b, func(b *testing.B) {
				l := newLayer(1, s.cfg, s.T, s.D, s.F)
				m := newRun(l)
				R := float64(s.T * s.cfg.K)
				fl := 3 * (2*float64(s.T*s.D*s.cfg.E) + 6*R*float64(s.F*s.D))
				b.ResetTimer()
				for range b.N {
					m.forward(b, l)
					m.backward(b, l)
				}
				gflops(b, fl)
			})
		})
	}
}

// benchState caches one shape's layer with a completed forward and backward.
var benchState = map[string]struct {
	l *layer
	m *moeRun
}{}

func benchSetup(b *testing.B, i int) (*layer, *moeRun) {
	s := benchShapes[i]
	if st, ok := benchState[s.name]; ok {
		return st.l, st.m
	}
	l := newLayer(1, s.cfg, s.T, s.D, s.F)
	m := newRun(l)
	m.forward(b, l)
	m.backward(b, l)
	benchState[s.name] = struct {
		l *layer
		m *moeRun
	}{l, m}
	return l, m
}

// BenchmarkMoEParts times each piece separately (single-threaded). GB/s counts the bytes each
// op must read and write once.
func BenchmarkMoEParts(b *testing.B) {
	for si, s := range benchShapes {
		T, D, F, E, k := s.T, s.D, s.F, s.cfg.E, s.cfg.K
		R := T * k
		gu := 2 * float64(R) * float64(2*F) * float64(D)
		parts := []struct {
			name  string
			flops float64 // 0: report GB/s of bytes instead
			bytes float64
			f     func(l *layer, m *moeRun)
		}{
			{"router_fwd", 2 * float64(T*D*E), 0, func(l *layer, m *moeRun) {
				must(b, RouterForward(l.cfg, T, D, l.x, l.wGate, l.bias, m.logits, m.scores, m.topIdx, m.topW))
			}},
			{"router_bwd", 4 * float64(T*D*E), 0, func(l *layer, m *moeRun) {
				must(b, RouterBackward(l.cfg, T, D, l.x, l.wGate, m.scores, m.topIdx, m.dTopW, nil, m.dLogits, m.dxR, m.dWGate))
			}},
			// build: topIdx; permute: read T·k rows, write T·k rows; backward: read T·k, write T.
			{"permute_build+fwd+bwd", 0, 4 * float64(3*R*D+T*D), func(l *layer, m *moeRun) {
				must(b, BuildPermutation(T, k, E, m.topIdx, m.offs, m.rowSrc, m.pos))
				must(b, Permute(T, D, k, l.x, m.rowSrc, m.xp))
				must(b, PermuteBackward(T, D, k, m.dxp, m.pos, m.dxE))
			}},
			// forward: read R rows, write T; backward: read T and R rows, write R rows.
			{"unpermute_fwd+bwd", 0, 4 * float64(3*R*D+2*T*D), func(l *layer, m *moeRun) {
				must(b, Unpermute(T, D, k, m.yp, m.pos, m.topW, m.out))
				must(b, UnpermuteBackward(T, D, k, l.dOut, m.yp, m.pos, m.topW, m.dyp, m.dTopW))
			}},
			{"grouped_gate_up_fwd", gu, 0, func(l *layer, m *moeRun) {
				must(b, GroupedLinear(E, R, 2*F, D, m.xp, l.wGateUp, m.offs, m.h))
			}},
			{"grouped_gate_up_bwd_input", gu, 0, func(l *layer, m *moeRun) {
				must(b, GroupedLinearBackwardInput(E, R, 2*F, D, m.dh, l.wGateUp, m.offs, m.dxp))
			}},
			{"grouped_gate_up_bwd_weight", gu, 0, func(l *layer, m *moeRun) {
				must(b, GroupedLinearBackwardWeight(E, R, 2*F, D, m.dh, m.xp, m.offs, m.dWGateUp))
			}},
		}
		for _, p := range parts {
			b.Run(fmt.Sprintf("%s/%s", s.name, p.name), func(b *testing.B) {
				l, m := benchSetup(b, si)
				single(b, func(b *testing.B) {
					b.ResetTimer()
					for range b.N {
						p.f(l, m)
					}
					if p.flops > 0 {
						gflops(b, p.flops)
					} else {
						b.ReportMetric(p.bytes*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
					}
				})
			})
		}
	}
}

// BenchmarkGroupedVsSgemm alternates, in every iteration, the grouped gate_up forward (E experts,
// the router's row split) and one plain Sgemm of the same total size ([R,D]·[D,2F]), and reports
// both rates and their ratio: measured side by side, the ratio survives a noisy machine.
func BenchmarkGroupedVsSgemm(b *testing.B) {
	for si, s := range benchShapes {
		b.Run(s.name, func(b *testing.B) {
			l, m := benchSetup(b, si)
			D, F, E := s.D, s.F, s.cfg.E
			R := s.T * s.cfg.K
			fl := 2 * float64(R) * float64(2*F) * float64(D)
			single(b, func(b *testing.B) {
				var tg, ts time.Duration
				b.ResetTimer()
				for range b.N {
					t0 := time.Now()
					must(b, GroupedLinear(E, R, 2*F, D, m.xp, l.wGateUp, m.offs, m.h))
					t1 := time.Now()
					gemm.Sgemm(false, true, R, 2*F, D, 1, m.xp, D, l.wGateUp, D, 0, m.h, 2*F)
					ts += time.Since(t1)
					tg += t1.Sub(t0)
				}
				n := float64(b.N)
				b.ReportMetric(fl*n/tg.Seconds()/1e9, "grouped-GFLOP/s")
				b.ReportMetric(fl*n/ts.Seconds()/1e9, "sgemm-GFLOP/s")
				b.ReportMetric(ts.Seconds()/tg.Seconds(), "grouped/sgemm-speed")
			})
		})
	}
}
