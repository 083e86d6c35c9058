package cublas

import (
	"fmt"
	"math"
	"unsafe"
)

// Operand is one row-major GEMM operand as stored: a device address, its dtype (R32F or
// R16BF), stored rows × cols and the element stride between batch matrices (0: broadcast).
type Operand struct {
	Ptr    uintptr
	Type   DataType
	Rows   int
	Cols   int
	Stride int64
}

// RowMajorGemm is C = α·op(A)·op(B) + β·C in row-major terms, Batch ≥ 1 matrices.
type RowMajorGemm struct {
	TransA, TransB bool
	A, B, C        Operand // C.Type must be R32F
	Alpha, Beta    float32
	Batch          int
}

// Args are the column-major arguments of one cublasGemm(StridedBatched)Ex call.
type Args struct {
	TransA, TransB         Op
	M, N, K                int32
	A, B, C                uintptr
	AType, BType, CType    DataType
	LdA, LdB, LdC          int32
	StrideA, StrideB, StrC int64
	Batch                  int32
	Alpha, Beta            float32
}

func op(t bool) Op {
	if t {
		return OpT
	}
	return OpN
}

// RowMajor maps a row-major GEMM onto cuBLAS's column-major arguments (see the package doc)
// and checks shapes and int32 ranges.
func RowMajor(g RowMajorGemm) (Args, error) {
	m, k := g.A.Rows, g.A.Cols
	if g.TransA {
		m, k = k, m
	}
	kb, n := g.B.Rows, g.B.Cols
	if g.TransB {
		kb, n = n, kb
	}
	switch {
	case k != kb || g.C.Rows != m || g.C.Cols != n:
		return Args{}, fmt.Errorf("cublas: op(A) [%d %d] · op(B) [%d %d] does not give C [%d %d]", m, k, kb, n, g.C.Rows, g.C.Cols)
	case g.C.Type != R32F:
		return Args{}, fmt.Errorf("cublas: C must be fp32 (CUDA_R_32F), got type %d", g.C.Type)
	case g.A.Type != g.B.Type:
		return Args{}, fmt.Errorf("cublas: A and B types differ (%d, %d); convert one first", g.A.Type, g.B.Type)
	case g.A.Type != R32F && g.A.Type != R16BF:
		return Args{}, fmt.Errorf("cublas: input type %d unsupported (want CUDA_R_32F or CUDA_R_16BF)", g.A.Type)
	case g.Batch < 1:
		return Args{}, fmt.Errorf("cublas: batch %d < 1", g.Batch)
	}
	for _, v := range []int{m, n, k, g.A.Cols, g.B.Cols, g.Batch} {
		if v > math.MaxInt32 {
			return Args{}, fmt.Errorf("cublas: dimension %d exceeds int32", v)
		}
	}
	return Args{
		TransA: op(g.TransB), TransB: op(g.TransA),
		M: int32(n), N: int32(m), K: int32(k),
		A: g.B.Ptr, B: g.A.Ptr, C: g.C.Ptr,
		AType: g.B.Type, BType: g.A.Type, CType: R32F,
		LdA: int32(max(g.B.Cols, 1)), LdB: int32(max(g.A.Cols, 1)), LdC: int32(max(n, 1)),
		StrideA: g.B.Stride, StrideB: g.A.Stride, StrC: g.C.Stride,
		Batch: int32(g.Batch), Alpha: g.Alpha, Beta: g.Beta,
	}, nil
}

// Gemm runs a row-major GEMM with fp32 accumulation (CUBLAS_COMPUTE_32F): one GemmEx for a
// single matrix, GemmStridedBatchedEx otherwise. An empty product (M, N = 0) does nothing; K = 0
// scales C by β.
func (h *Handle) Gemm(g RowMajorGemm) error {
	a, err := RowMajor(g)
	if err != nil {
		return err
	}
	return h.Call(a)
}

// Call issues the cuBLAS call for already-mapped arguments.
func (h *Handle) Call(a Args) error {
	if a.M == 0 || a.N == 0 {
		return nil
	}
	alpha, beta := a.Alpha, a.Beta
	if a.Batch == 1 {
		return check("cublasGemmEx", h.l.gemmEx(h.h, int32(a.TransA), int32(a.TransB), a.M, a.N, a.K,
			unsafe.Pointer(&alpha), a.A, int32(a.AType), a.LdA, a.B, int32(a.BType), a.LdB,
			unsafe.Pointer(&beta), a.C, int32(a.CType), a.LdC, int32(Compute32F), algoDefault))
	}
	return check("cublasGemmStridedBatchedEx", h.l.gemmStrided(h.h, int32(a.TransA), int32(a.TransB), a.M, a.N, a.K,
		unsafe.Pointer(&alpha), a.A, int32(a.AType), a.LdA, a.StrideA, a.B, int32(a.BType), a.LdB, a.StrideB,
		unsafe.Pointer(&beta), a.C, int32(a.CType), a.LdC, a.StrC, a.Batch, int32(Compute32F), algoDefault))
}

// Group is one expert's block of the grouped GEMM: rows [Off, Off+Rows) of the row operand.
type Group struct{ Off, Rows int }

// Groups turns offsets offs [E+1] (expert-sorted row ranges) into groups, checking that they
// are non-decreasing and end at rows.
func Groups(offs []int32, rows int) ([]Group, error) {
	if len(offs) < 1 || offs[0] != 0 || int(offs[len(offs)-1]) != rows {
		return nil, fmt.Errorf("cublas: offsets must run from 0 to %d, got %v", rows, clip(offs))
	}
	g := make([]Group, len(offs)-1)
	for e := range g {
		if offs[e+1] < offs[e] {
			return nil, fmt.Errorf("cublas: offsets decrease at expert %d (%d → %d)", e, offs[e], offs[e+1])
		}
		g[e] = Group{int(offs[e]), int(offs[e+1] - offs[e])}
	}
	return g, nil
}

func clip(v []int32) []int32 {
	if len(v) > 8 {
		return v[:8]
	}
	return v
}

// GroupedKind selects the grouped GEMM of a MoE expert linear.
type GroupedKind int

const (
	// Forward: y[rows_e] = x[rows_e]·w[e]ᵀ     (y [R, N], x [R, K], w [E, N, K]); y overwritten.
	Forward GroupedKind = iota
	// BackwardInput: dx[rows_e] = dy[rows_e]·w[e]  (dx [R, K], dy [R, N]); dx overwritten.
	BackwardInput
	// BackwardWeight: dw[e] += dy[rows_e]ᵀ·x[rows_e] (dw [E, N, K]); accumulated.
	BackwardWeight
)

// GroupedPlan lists the per-expert row-major GEMMs of a grouped linear; rows and weights are
// fp32 or bf16 (Type), outputs fp32. elem is the input element size in bytes.
func GroupedPlan(kind GroupedKind, groups []Group, N, K int, rowsIn, w, out uintptr, typ DataType) ([]RowMajorGemm, error) {
	elem := uintptr(4)
	if typ == R16BF {
		elem = 2
	}
	var gs []RowMajorGemm
	for e, g := range groups {
		if g.Rows == 0 {
			continue // an expert with no tokens: nothing to compute, dw[e] keeps its value
		}
		we := w + uintptr(e*N*K)*elem
		switch kind {
		case Forward:
			gs = append(gs, RowMajorGemm{TransB: true,
				A: Operand{Ptr: rowsIn + uintptr(g.Off*K)*elem, Type: typ, Rows: g.Rows, Cols: K},
				B: Operand{Ptr: we, Type: typ, Rows: N, Cols: K},
				C: Operand{Ptr: out + uintptr(g.Off*N)*4, Type: R32F, Rows: g.Rows, Cols: N}, Alpha: 1, Batch: 1})
		case BackwardInput:
			gs = append(gs, RowMajorGemm{
				A: Operand{Ptr: rowsIn + uintptr(g.Off*N)*elem, Type: typ, Rows: g.Rows, Cols: N},
				B: Operand{Ptr: we, Type: typ, Rows: N, Cols: K},
				C: Operand{Ptr: out + uintptr(g.Off*K)*4, Type: R32F, Rows: g.Rows, Cols: K}, Alpha: 1, Batch: 1})
		default:
			return nil, fmt.Errorf("cublas: GroupedPlan kind %d: use GroupedWeightPlan", kind)
		}
	}
	return gs, nil
}

// GroupedWeightPlan lists dw[e] += dy[rows_e]ᵀ·x[rows_e] (dy [R, N], x [R, K], dw [E, N, K] fp32).
func GroupedWeightPlan(groups []Group, N, K int, dy, x, dw uintptr, typ DataType) []RowMajorGemm {
	elem := uintptr(4)
	if typ == R16BF {
		elem = 2
	}
	var gs []RowMajorGemm
	for e, g := range groups {
		if g.Rows == 0 {
			continue
		}
		gs = append(gs, RowMajorGemm{TransA: true,
			A: Operand{Ptr: dy + uintptr(g.Off*N)*elem, Type: typ, Rows: g.Rows, Cols: N},
			B: Operand{Ptr: x + uintptr(g.Off*K)*elem, Type: typ, Rows: g.Rows, Cols: K},
			C: Operand{Ptr: dw + uintptr(e*N*K)*4, Type: R32F, Rows: N, Cols: K}, Alpha: 1, Beta: 1, Batch: 1})
	}
	return gs
}

// Grouped runs a plan's GEMMs in order on the handle's stream.
func (h *Handle) Grouped(plan []RowMajorGemm) error {
	for i, g := range plan {
		if err := h.Gemm(g); err != nil {
			return fmt.Errorf("grouped GEMM %d of %d: %w", i, len(plan), err)
		}
	}
	return nil
}
