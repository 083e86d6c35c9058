package ptx

import (
	"fmt"
	"sort"
	"strings"
)

// ParamType is the C type of one kernel parameter. Every parameter takes one 8-byte slot of
// cuLaunchKernel's kernelParams (driver.Args): pointers as Args.Ptr, I32 as Args.I32, I64 as
// Args.I64, F32 as Args.F32.
type ParamType uint8

const (
	PtrF32  ParamType = iota + 1 // float*          (F32 tensor)
	PtrBF16                      // unsigned short* (BF16 tensor)
	PtrI32                       // int*            (I32 tensor)
	PtrF64                       // double*         (F64 scratch)
	PtrU8                        // unsigned char*  (bool bytes, e.g. the key-padding mask)
	I32                          // int
	I64                          // long long
	F32                          // float
)

var typeNames = map[string]ParamType{"*f32": PtrF32, "*bf16": PtrBF16, "*i32": PtrI32, "*f64": PtrF64,
	"*u8": PtrU8, "i32": I32, "i64": I64, "f32": F32}

func (t ParamType) String() string {
	for n, v := range typeNames {
		if v == t {
			return n
		}
	}
	return fmt.Sprintf("ParamType(%d)", uint8(t))
}

// PTX is the type of the parameter in a .entry declaration as clang emits it.
func (t ParamType) PTX() string {
	switch t {
	case I32:
		return ".u32"
	case F32:
		return ".f32"
	case PtrF32, PtrBF16, PtrI32, PtrF64, PtrU8, I64:
		return ".u64"
	}
	return ""
}

// IsPtr reports whether the parameter is a device pointer (null allowed only where the
// kernel's doc says so).
func (t ParamType) IsPtr() bool { return t >= PtrF32 && t <= PtrU8 }

// Param is one kernel parameter.
type Param struct {
	Name string
	Type ParamType
}

// Grid names how a kernel's grid is formed (see doc.go for each kernel's sizes). Block is the
// kernel's Block threads (x only); dynamic shared memory is always 0 (static only, < 48 KiB).
type Grid uint8

const (
	// GridStride: grid.x = GridStrideBlocks(n, Block), any grid is correct (grid-stride loop
	// over the kernel's element count n).
	GridStride Grid = iota + 1
	// GridRows: grid.x = the kernel's row count (one block per row, index, token, expert or
	// table cell, as its doc says).
	GridRows
	// GridColChunks: grid (ceil(cols/Block), ceil(rows/ColChunkRows)): column-sum partials.
	GridColChunks
	// GridCols: grid.x = ceil(cols/Block).
	GridCols
	// GridSingle: grid.x = 1.
	GridSingle
	// GridNormBlocks: grid.x = ceil(n/NormBlock).
	GridNormBlocks
	// GridAttnQ: grid (ceil(maxSeg/AttnTile), H, nseg); GridAttnKV: (ceil(maxSeg/AttnTile), K, nseg).
	GridAttnQ
	GridAttnKV
	// GridWarpRows: grid.x = ceil(rows/(Block/32)), one warp per row.
	GridWarpRows
	// GridThreads: grid.x = ceil(n/Block), one thread per item.
	GridThreads
)

// Launch constants shared with the .cu sources.
const (
	ColChunkRows    = 64      // rows per column-sum partial (chunkRows argument)
	NormBlock       = 4096    // elements per sumsq_partial block
	AttnTile        = 16      // queries (or keys) per attention block
	AttnMaxHeadDim  = 128     // largest Dh the attention kernels take
	RouterMaxK      = 32      // moe_route_f32 limits
	RouterMaxGroups = 64      //
	IgnoreIndex     = -100    // cross-entropy target without loss
	MaxGridStride   = 1 << 16 // cap on GridStride grids (each thread then loops)
)

// GridStrideBlocks is grid.x for a GridStride kernel over n elements.
func GridStrideBlocks(n int64, block int) uint32 {
	b := (n + int64(block) - 1) / int64(block)
	return uint32(min(max(b, 1), MaxGridStride))
}

// Kernel is one PTX entry: its extern "C" name, parameters in order and launch geometry.
type Kernel struct {
	Name   string
	Params []Param
	Block  int // threads per block (blockDim.x; y = z = 1)
	Grid   Grid
}

// Kernels is every entry of the module, sorted by name.
var Kernels = build()

// Lookup returns the kernel with the given name.
func Lookup(name string) (Kernel, bool) {
	i := sort.Search(len(Kernels), func(i int) bool { return Kernels[i].Name >= name })
	if i < len(Kernels) && Kernels[i].Name == name {
		return Kernels[i], true
	}
	return Kernel{}, false
}

// spec is one row of the table below: a name (with _T for the dtype variants), block, grid
// and signature "name type, ..." where *T is the storage type of the variant.
type spec struct {
	name  string
	block int
	grid  Grid
	sig   string
}

// The table, by source file. Signatures are the .cu parameter lists, in order.
var specs = []spec{
	// elementwise.cu
	{"add_T", 256, GridStride, "out *T, a *T, b *T, n i64"},
	{"mul_T", 256, GridStride, "out *T, a *T, b *T, n i64"},
	{"mul_backward_T", 256, GridStride, "da *T, db *T, dout *T, a *T, b *T, n i64"},
	{"scale_T", 256, GridStride, "out *T, x *T, alpha f32, n i64"},
	{"add_bias_T", 256, GridStride, "out *T, x *T, bias *T, n i64, cols i32"},
	{"colsum_partial_T", 256, GridColChunks, "part *f32, x *T, rows i32, cols i32, chunkRows i32"},
	{"colsum_finish_f32", 256, GridCols, "dst *f32, part *f32, chunks i32, cols i32"},
	{"silu_T", 256, GridStride, "out *T, x *T, n i64"},
	{"silu_backward_T", 256, GridStride, "dx *T, dout *T, x *T, n i64"},
	{"gelu_T", 256, GridStride, "out *T, x *T, n i64"},
	{"gelu_backward_T", 256, GridStride, "dx *T, dout *T, x *T, n i64"},
	{"swiglu_T", 256, GridStride, "out *T, g *T, u *T, n i64"},
	{"swiglu_backward_T", 256, GridStride, "dg *T, du *T, dout *T, g *T, u *T, n i64"},
	{"swiglu_fused_T", 256, GridStride, "out *T, gu *T, n i64, F i32"},
	{"swiglu_fused_backward_T", 256, GridStride, "dgu *T, dout *T, gu *T, n i64, F i32"},
	{"cast_f32_to_bf16", 256, GridStride, "dst *bf16, src *f32, n i64"},
	{"cast_bf16_to_f32", 256, GridStride, "dst *f32, src *bf16, n i64"},
	// norms.cu
	{"rmsnorm_T", 256, GridRows, "out *T, rstd *f32, x *T, w *T, rows i32, D i32, eps f32"},
	{"rmsnorm_backward_T", 256, GridRows, "dx *T, dout *T, x *T, w *T, rstd *f32, rows i32, D i32"},
	{"rmsnorm_dw_partial_T", 256, GridColChunks, "part *f32, dout *T, x *T, rstd *f32, rows i32, D i32, chunkRows i32"},
	{"layernorm_T", 256, GridRows, "out *T, mean *f32, rstd *f32, x *T, w *T, b *T, rows i32, D i32, eps f32"},
	{"layernorm_backward_T", 256, GridRows, "dx *T, dout *T, x *T, w *T, mean *f32, rstd *f32, rows i32, D i32"},
	{"layernorm_dwdb_partial_T", 256, GridColChunks, "pw *f32, pb *f32, dout *T, x *T, mean *f32, rstd *f32, rows i32, D i32, chunkRows i32"},
	// rotary.cu
	{"rotary_T", 256, GridStride, "out *T, x *T, cos *f32, sin *f32, T i32, H i32, Dh i32, R i32, inverse i32"},
	// softmax.cu
	{"softmax_T", 256, GridRows, "out *T, x *T, rows i32, C i32"},
	{"softmax_backward_T", 256, GridRows, "dx *T, dout *T, y *T, rows i32, C i32"},
	{"ce_forward_T", 256, GridRows, "stats *f32, loss *f64, logits *T, targets *i32, rows i32, V i32"},
	{"ce_backward_T", 256, GridRows, "dlogits *T, logits *T, stats *f32, targets *i32, rows i32, V i32, scale f32"},
	// rows.cu
	{"gather_rows_T", 256, GridRows, "out *T, src *T, idx *i32, N i32, D i32"},
	{"scatter_rows_T", 256, GridRows, "dst *T, src *T, idx *i32, N i32, D i32"},
	{"scatter_add_rows_T", 256, GridRows, "dst *T, src *T, idx *i32, N i32, D i32, skip i32"},
	{"index_check_i32", 256, GridStride, "bad *i32, idx *i32, n i64, lo i32, hi i32, allow i32"},
	{"duplicate_check_i32", 256, GridRows, "bad *i32, idx *i32, N i32"},
	// optim.cu
	{"adamw_f32", 256, GridStride, "p *f32, g *f32, m *f32, v *f32, n i64, decay f32, b1 f32, c1 f32, b2 f32, c2 f32, stepSize f32, bc2Sqrt f32, eps f32"},
	{"sumsq_partial_T", 256, GridNormBlocks, "part *f64, x *T, n i64"},
	{"sum_f64", 256, GridSingle, "out *f64, part *f64, n i32"},
	// moe.cu
	{"moe_route_f32", 128, GridThreads, "scores *f32, topIdx *i32, topW *f32, logits *f32, bias *f32, T i32, E i32, k i32, nGroup i32, topkGroup i32, normTopK i32, scale f32"},
	{"moe_router_backward_f32", 256, GridStride, "dLogits *f32, dTopW *f32, dScores *f32, scores *f32, topIdx *i32, T i32, E i32, k i32, normTopK i32, scale f32"},
	{"moe_count", 256, GridRows, "counts *i32, topIdx *i32, R i32"},
	{"moe_offsets", 32, GridSingle, "offs *i32, counts *i32, E i32"},
	{"moe_place", 256, GridRows, "rowSrc *i32, pos *i32, topIdx *i32, offs *i32, R i32"},
	{"moe_permute_T", 256, GridRows, "xPerm *T, x *T, rowSrc *i32, R i32, D i32, k i32"},
	{"moe_permute_backward_T", 256, GridRows, "dx *T, dXPerm *T, pos *i32, T i32, D i32, k i32"},
	{"moe_unpermute_T", 256, GridRows, "out *T, yPerm *T, pos *i32, topW *f32, T i32, D i32, k i32"},
	{"moe_unpermute_backward_T", 256, GridRows, "dYPerm *T, dTopW *f32, dout *T, yPerm *T, pos *i32, topW *f32, T i32, D i32, k i32"},
	// attention.cu
	{"attention_forward_T", 128, GridAttnQ, "o *T, lse *f32, q *T, k *T, v *T, cu *i32, keyPad *u8, T i32, H i32, K i32, Dh i32, scale f32, causal i32, bf16ops i32"},
	{"attention_bwd_dsum_T", 128, GridWarpRows, "dsum *f32, o *T, dout *T, T i32, H i32, Dh i32"},
	{"attention_bwd_dkv_T", 128, GridAttnKV, "dk *T, dv *T, q *T, k *T, v *T, dout *T, lse *f32, dsum *f32, cu *i32, keyPad *u8, T i32, H i32, K i32, Dh i32, scale f32, causal i32, bf16ops i32"},
	{"attention_bwd_dq_T", 128, GridAttnQ, "dq *T, q *T, k *T, v *T, dout *T, lse *f32, dsum *f32, cu *i32, keyPad *u8, T i32, H i32, K i32, Dh i32, scale f32, causal i32, bf16ops i32"},
	// gridsample.cu
	{"gridsample_forward_T", 256, GridStride, "out *T, table *T, grid *f32, H0 i32, W0 i32, C i32, N i32"},
	{"gridsample_backward_T", 256, GridRows, "dtable *T, dout *T, grid *f32, H0 i32, W0 i32, C i32, N i32"},
}

// build expands the _T rows into their _f32 and _bf16 variants and parses the signatures.
// A malformed row is a programming error of this file (the table test covers every row).
func build() []Kernel {
	var ks []Kernel
	for _, s := range specs {
		variants := [][2]string{{"", ""}}
		if base, ok := strings.CutSuffix(s.name, "_T"); ok {
			variants = [][2]string{{base + "_f32", "*f32"}, {base + "_bf16", "*bf16"}}
		} else {
			variants[0][0] = s.name
		}
		for _, v := range variants {
			k := Kernel{Name: v[0], Block: s.block, Grid: s.grid}
			for _, f := range strings.Split(s.sig, ",") {
				name, typ, ok := strings.Cut(strings.TrimSpace(f), " ")
				if typ == "*T" {
					typ = v[1]
				}
				t, known := typeNames[typ]
				if !ok || !known {
					panic(fmt.Sprintf("ptx: kernel %s: bad parameter %q", s.name, f))
				}
				k.Params = append(k.Params, Param{name, t})
			}
			ks = append(ks, k)
		}
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].Name < ks[j].Name })
	return ks
}
