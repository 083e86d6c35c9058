package moe

import (
	"fmt"

	"github.com/glmflow/glmflow/kernels/vec" // AVX-512/AVX2 Axpy, Dot, Scale
)

// BuildPermutation groups the T·k (token, slot) assignments of topIdx by expert with a stable
// counting sort: expert 0's rows first, and within an expert the assignments in (t, j) order.
//
//	topIdx [T,k]   chosen experts (RouterForward)
//	offs   [E+1]   out: expert e owns permuted rows offs[e] ≤ r < offs[e+1]; offs[E] = T·k
//	rowSrc [T·k]   out: permuted row r holds assignment rowSrc[r] = t·k + j (token t = rowSrc[r]/k)
//	pos    [T·k]   out: assignment t·k+j sits at permuted row pos[t·k+j] (inverse of rowSrc)
func BuildPermutation(T, k, E int, topIdx, offs, rowSrc, pos []int32) error {
	const op = "BuildPermutation"
	if err := checkDims(op, "T", T, "k", k, "E", E); err != nil {
		return err
	}
	if E < 1 || k < 1 {
		return fmt.Errorf("moe: %s: E = %d, k = %d, want ≥ 1", op, E, k)
	}
	R := T * k
	if R >= 1<<31 {
		return fmt.Errorf("moe: %s: T·k = %d overflows int32", op, R)
	}
	for _, c := range []struct {
		n    string
		l, w int
	}{{"topIdx", len(topIdx), R}, {"offs", len(offs), E + 1}, {"rowSrc", len(rowSrc), R}, {"pos", len(pos), R}} {
		if err := checkLen(op, c.n, c.l, c.w); err != nil {
			return err
		}
	}
	clear(offs)
	for a, e := range topIdx {
		if e < 0 || int(e) >= E {
			return fmt.Errorf("moe: %s: topIdx[%d] = %d, want 0..%d", op, a, e, E-1)
		}
		offs[e+1]++
	}
	for e := range E {
		offs[e+1] += offs[e]
	}
	// Place every assignment at its expert's running cursor: stable in (t, j) order.
	next := make([]int32, E)
	copy(next, offs[:E])
	for a, e := range topIdx {
		r := next[e]
		next[e]++
		rowSrc[r] = int32(a)
		pos[a] = r
	}
	return nil
}

// Row tile for the permutation copies (rows of D floats).
const permRowTile = 64

func checkPerm(op string, R int, idx []int32, name string) error {
	for i, r := range idx {
		if r < 0 || int(r) >= R {
			return fmt.Errorf("moe: %s: %s[%d] = %d, want 0..%d", op, name, i, r, R-1)
		}
	}
	return nil
}

// Permute gathers xPerm [T·k,D] (overwritten): row r = x[rowSrc[r]/k].
func Permute(T, D, k int, x []float32, rowSrc []int32, xPerm []float32) error {
	const op = "Permute"
	if err := checkDims(op, "T", T, "D", D, "k", k); err != nil {
		return err
	}
	R := T * k
	if err := checkLen(op, "x", len(x), T*D); err != nil {
		return err
	}
	if err := checkLen(op, "rowSrc", len(rowSrc), R); err != nil {
		return err
	}
	if err := checkLen(op, "xPerm", len(xPerm), R*D); err != nil {
		return err
	}
	if err := checkPerm(op, R, rowSrc, "rowSrc"); err != nil {
		return err
	}
	parallelFor(tiles(R, permRowTile), 8*R*D, func(ti int) {
		for r := ti * permRowTile; r < min(R, (ti+1)*permRowTile); r++ {
			t := int(rowSrc[r]) / k
			copy(xPerm[r*D:(r+1)*D], x[t*D:(t+1)*D])
		}
	})
	return nil
}

// PermuteBackward writes dx [T,D] (overwritten): dx[t] = Σ_{j=0..k−1} dXPerm[pos[t·k+j]], summed
// in j order (the deterministic form of the scatter-add).
func PermuteBackward(T, D, k int, dXPerm []float32, pos []int32, dx []float32) error {
	const op = "PermuteBackward"
	if err := checkDims(op, "T", T, "D", D, "k", k); err != nil {
		return err
	}
	R := T * k
	if err := checkLen(op, "dXPerm", len(dXPerm), R*D); err != nil {
		return err
	}
	if err := checkLen(op, "pos", len(pos), R); err != nil {
		return err
	}
	if err := checkLen(op, "dx", len(dx), T*D); err != nil {
		return err
	}
	if err := checkPerm(op, R, pos, "pos"); err != nil {
		return err
	}
	parallelFor(tiles(T, permRowTile), 8*R*D, func(ti int) {
		for t := ti * permRowTile; t < min(T, (ti+1)*permRowTile); t++ {
			o := dx[t*D : (t+1)*D]
			if k == 0 {
				clear(o)
				continue
			}
			r := int(pos[t*k])
			copy(o, dXPerm[r*D:(r+1)*D])
			for j := 1; j < k; j++ {
				r := int(pos[t*k+j])
				vec.Axpy(1, dXPerm[r*D:(r+1)*D], o)
			}
		}
	})
	return nil
}

// Unpermute combines the expert outputs: out [T,D] (overwritten),
// out[t] = Σ_{j=0..k−1} topW[t,j]·yPerm[pos[t·k+j]], summed in j order.
func Unpermute(T, D, k int, yPerm []float32, pos []int32, topW, out []float32) error {
	const op = "Unpermute"
	if err := checkDims(op, "T", T, "D", D, "k", k); err != nil {
		return err
	}
	R := T * k
	if err := checkLen(op, "yPerm", len(yPerm), R*D); err != nil {
		return err
	}
	if err := checkLen(op, "pos", len(pos), R); err != nil {
		return err
	}
	if err := checkLen(op, "topW", len(topW), R); err != nil {
		return err
	}
	if err := checkLen(op, "out", len(out), T*D); err != nil {
		return err
	}
	if err := checkPerm(op, R, pos, "pos"); err != nil {
		return err
	}
	parallelFor(tiles(T, permRowTile), 8*R*D, func(ti int) {
		for t := ti * permRowTile; t < min(T, (ti+1)*permRowTile); t++ {
			o := out[t*D : (t+1)*D]
			clear(o)
			for j := range k {
				r := int(pos[t*k+j])
				vec.Axpy(topW[t*k+j], yPerm[r*D:(r+1)*D], o)
			}
		}
	})
	return nil
}

// UnpermuteBackward, given dOut [T,D]:
//
//	dYPerm [T·k,D] out: dYPerm[pos[t·k+j]] = topW[t,j]·dOut[t]
//	dTopW  [T,k]   out: dTopW[t,j] = dot(dOut[t], yPerm[pos[t·k+j]])
func UnpermuteBackward(T, D, k int, dOut, yPerm []float32, pos []int32, topW, dYPerm, dTopW []float32) error {
	const op = "UnpermuteBackward"
	if err := checkDims(op, "T", T, "D", D, "k", k); err != nil {
		return err
	}
	R := T * k
	for _, c := range []struct {
		n    string
		l, w int
	}{{"dOut", len(dOut), T * D}, {"yPerm", len(yPerm), R * D}, {"pos", len(pos), R},
		{"topW", len(topW), R}, {"dYPerm", len(dYPerm), R * D}, {"dTopW", len(dTopW), R}} {
		if err := checkLen(op, c.n, c.l, c.w); err != nil {
			return err
		}
	}
	if err := checkPerm(op, R, pos, "pos"); err != nil {
		return err
	}
	parallelFor(tiles(T, permRowTile), 12*R*D, func(ti int) {
		for t := ti * permRowTile; t < min(T, (ti+1)*permRowTile); t++ {
			g := dOut[t*D : (t+1)*D]
			for j := range k {
				r := int(pos[t*k+j])
				dTopW[t*k+j] = vec.Dot(g, yPerm[r*D:(r+1)*D])
				dy := dYPerm[r*D : (r+1)*D]
				copy(dy, g)
				vec.Scale(topW[t*k+j], dy)
			}
		}
	})
	return nil
}
