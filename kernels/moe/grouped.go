package moe

import (
	"fmt"

	"github.com/glmflow/glmflow/kernels/gemm"
)

// checkOffs validates the expert row offsets: offs[0] = 0, non-decreasing, offs[E] = R.
func checkOffs(op string, E, R int, offs []int32) error {
	if err := checkLen(op, "offs", len(offs), E+1); err != nil {
		return err
	}
	if offs[0] != 0 || int(offs[E]) != R {
		return fmt.Errorf("moe: %s: offs[0] = %d, offs[E] = %d, want 0 and %d", op, offs[0], offs[E], R)
	}
	for e := range E {
		if offs[e+1] < offs[e] {
			return fmt.Errorf("moe: %s: offs[%d] = %d < offs[%d] = %d", op, e+1, offs[e+1], e, offs[e])
		}
	}
	return nil
}

func groupedChecks(op string, E, R, N, K int, offs []int32, lens ...any) error {
	if err := checkDims(op, "E", E, "R", R, "N", N, "K", K); err != nil {
		return err
	}
	if E < 1 {
		return fmt.Errorf("moe: %s: E = %d, want ≥ 1", op, E)
	}
	for i := 0; i+2 < len(lens); i += 3 {
		if err := checkLen(op, lens[i].(string), lens[i+1].(int), lens[i+2].(int)); err != nil {
			return err
		}
	}
	return checkOffs(op, E, R, offs)
}

// GroupedLinear runs every expert's bias-free linear layer on its block of permuted rows:
// for each e, y[offs[e]:offs[e+1]] = x[offs[e]:offs[e+1]] · w[e]ᵀ. Experts without rows are
// skipped.
//
//	x    [R,K]    permuted input rows (Permute, or the SwiGLU output)
//	w    [E,N,K]  expert weights, HF layout (gate_up_proj [E,2F,D] or down_proj [E,D,F])
//	offs [E+1]    expert row offsets (BuildPermutation)
//	y    [R,N]    out (overwritten)
func GroupedLinear(E, R, N, K int, x, w []float32, offs []int32, y []float32) error {
	if err := groupedChecks("GroupedLinear", E, R, N, K, offs,
		"x", len(x), R*K, "w", len(w), E*N*K, "y", len(y), R*N); err != nil {
		return err
	}
	if N == 0 || K == 0 { // gemm rejects zero leading dimensions
		clear(y)
		return nil
	}
	gemm.GroupedSgemm(true, offsInt(offs), N, K, 1, x, K, w, K, N*K, 0, y, N)
	return nil
}

// GroupedLinearBackwardInput writes dx [R,K] (overwritten): for each e,
// dx[offs[e]:offs[e+1]] = dy[offs[e]:offs[e+1]] · w[e], with dy [R,N] and w [E,N,K].
func GroupedLinearBackwardInput(E, R, N, K int, dy, w []float32, offs []int32, dx []float32) error {
	if err := groupedChecks("GroupedLinearBackwardInput", E, R, N, K, offs,
		"dy", len(dy), R*N, "w", len(w), E*N*K, "dx", len(dx), R*K); err != nil {
		return err
	}
	if N == 0 || K == 0 {
		clear(dx)
		return nil
	}
	gemm.GroupedSgemm(false, offsInt(offs), K, N, 1, dy, N, w, K, N*K, 0, dx, K)
	return nil
}

// GroupedLinearBackwardWeight accumulates dw [E,N,K]: for each e,
// dw[e] += dy[offs[e]:offs[e+1]]ᵀ · x[offs[e]:offs[e+1]], with dy [R,N] and x [R,K]. Experts
// without rows are left untouched (their gradient contribution is zero).
func GroupedLinearBackwardWeight(E, R, N, K int, dy, x []float32, offs []int32, dw []float32) error {
	if err := groupedChecks("GroupedLinearBackwardWeight", E, R, N, K, offs,
		"dy", len(dy), R*N, "x", len(x), R*K, "dw", len(dw), E*N*K); err != nil {
		return err
	}
	if N == 0 || K == 0 {
		return nil
	}
	gemm.GroupedSgemmTN(offsInt(offs), N, K, 1, dy, N, x, K, 1, dw, K, N*K)
	return nil
}
