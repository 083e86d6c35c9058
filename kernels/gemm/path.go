package gemm

import "fmt"

// Path names one implementation of the microkernel and packers. The default is the best one
// the CPU and OS support (see doc.go); ForcePath exists for tests and benchmarks.
type Path int

const (
	PathGeneric Path = iota // portable Go, any GOARCH
	PathAVX2                // amd64 AVX2+FMA, 6×16 YMM register tile
	PathAVX512              // amd64 AVX-512F, 6×64 ZMM register tile
	// PathAVX512BF16 is PathAVX512 plus AVX512_BF16: SgemmBF16 and SgemmBF16Round run
	// VDPBF16PS on bf16 pairs (6×64 ZMM tile). Every other call is exactly PathAVX512, and
	// on the other paths the bf16 GEMMs widen their operands to float32 while packing.
	PathAVX512BF16
)

func (p Path) String() string {
	switch p {
	case PathGeneric:
		return "generic"
	case PathAVX2:
		return "avx2"
	case PathAVX512:
		return "avx512"
	case PathAVX512BF16:
		return "avx512bf16"
	}
	return fmt.Sprintf("Path(%d)", int(p))
}

// kernelFunc is the assembly microkernel signature; gen_kernels.go documents the contract.
type kernelFunc func(kc int, a, b, c *float32, ldc int, alpha, beta float32, mask, load int)

// dotKernelFunc is the bf16 dot-product microkernel signature (kc counts k pairs).
// lda is the row-major A row stride in bf16 elements (unused by the k-major kernels).
type dotKernelFunc func(kc int, a, b *uint16, c *float32, ldc int, alpha, beta float32, mask, load, lda int)

// impl is one path: its register tile and its tile and packing routines.
type impl struct {
	path   Path
	mr, nr int // register tile: mr rows × nr columns of C
	// tile computes C[0:mr, 0:nc] (row stride ldc) from a packed A panel and a packed B panel
	// of kc steps: C = alpha·A·B when !load, C = beta·C + alpha·A·B when load.
	// kMajor selects the A panel layout (see packA).
	tile func(kMajor bool, mr, nc, kc int, a, b, c []float32, ldc int, alpha, beta float32, load bool)
	// transpose8, when non-nil, writes dst[j*ds+i] = src[i*ls+j] for i < 8·r8, j < 8·c8.
	transpose8 func(dst, src []float32, ds, ls, r8, c8 int)
	// packK6, when non-nil (and mr == 6), packs a full 6-row k-major A panel:
	// dst[q*6+r] = src[q*ls+r] for q < kc, r < 6.
	packK6 func(dst, src []float32, ls, kc int)
	// widen sets dst[i] = bf16(src[i]) for i < len(src).
	widen func(dst []float32, src []uint16)
	// dotTile, when non-nil, is the bf16 pair kernel for SgemmBF16/SgemmBF16Round (see
	// pack16.go): C[0:mr, 0:nc] from a bf16 A panel (k-major packed, or row-major with rows
	// lda apart: packed or op(A) itself) and a packed B panel of kp k pairs, with the
	// load/alpha/beta contract of tile. Its register tile is dmr × dnr.
	dotTile  func(kMajor bool, mr, nc, kp int, a []uint16, lda int, b []uint16, c []float32, ldc int, alpha, beta float32, load bool)
	dmr, dnr int
	// prefetch16, when non-nil, hints the rows [0, rows) of a (lda apart, n bf16 each)
	// towards L2 (PREFETCHT1).
	prefetch16 func(a []uint16, rows, lda, n int)
	// interleave (with dotTile) sets dst[2i] = r0[i], dst[2i+1] = r1[i] for i < len(r0).
	interleave func(dst, r0, r1 []uint16)
	// interleaveK6, when non-nil (with dmr == 6), packs one k pair of k-major A straight into
	// the panels: pair (r0[c], r1[c]) to slot c%6 of panel c/6 (panel stride panel elements,
	// dst at panel 0's slot), for the first n columns, n (≤ len(r0)) returned.
	interleaveK6 func(dst, r0, r1 []uint16, panel int) (n int)
}

var impls = map[Path]*impl{
	PathGeneric: {path: PathGeneric, mr: genericMR, nr: genericNR, tile: genericTile, widen: widenBF16Go},
}

// cur is the path every call uses; set once at init (best available) and by ForcePath.
var cur = impls[PathGeneric]

// Available reports whether path p can run on this machine.
func Available(p Path) bool { return impls[p] != nil }

// ForcePath selects the implementation used by all later calls and returns the previous
// one. It is meant for tests and benchmarks, must not race with running GEMMs, and panics
// if p is not Available.
func ForcePath(p Path) Path {
	im := impls[p]
	if im == nil {
		panic(fmt.Sprintf("gemm: path %v not available on this machine", p))
	}
	prev := cur.path
	cur = im
	return prev
}

// CurrentPath returns the path in use.
func CurrentPath() Path { return cur.path }
