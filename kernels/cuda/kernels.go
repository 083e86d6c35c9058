package cuda

import (
	"fmt"
	"sort"
	"sync"

	"github.com/glmflow/glmflow/kernels/cuda/driver"
	"github.com/glmflow/glmflow/kernels/cuda/ptx"
)

// usedKernels are the PTX entries the backend launches (F32 instantiations; ptx.Kernels is
// the contract: names, parameter types, block and grid).
var usedKernels = []string{
	"add_f32", "mul_f32", "mul_backward_f32", "scale_f32", "silu_f32", "silu_backward_f32",
	"gelu_f32", "gelu_backward_f32", "swiglu_f32", "swiglu_backward_f32", "swiglu_fused_f32",
	"swiglu_fused_backward_f32", "add_bias_f32", "cast_f32_to_bf16", "cast_bf16_to_f32",
	"colsum_partial_f32", "colsum_finish_f32",
	"rmsnorm_f32", "rmsnorm_backward_f32", "rmsnorm_dw_partial_f32", "layernorm_f32",
	"layernorm_backward_f32", "layernorm_dwdb_partial_f32",
	"rotary_f32", "softmax_f32", "softmax_backward_f32", "ce_forward_f32", "ce_backward_f32",
	"gather_rows_f32", "scatter_rows_f32", "scatter_add_rows_f32",
	"gridsample_forward_f32", "gridsample_backward_f32",
	"attention_forward_f32", "attention_bwd_dsum_f32", "attention_bwd_dkv_f32", "attention_bwd_dq_f32",
	"moe_route_f32", "moe_router_backward_f32", "moe_count", "moe_offsets", "moe_place",
	"moe_permute_f32", "moe_permute_backward_f32", "moe_unpermute_f32", "moe_unpermute_backward_f32",
	"adamw_f32", "sumsq_partial_f32", "sum_f64",
}

// KernelNames lists the entries the backend launches, sorted.
func KernelNames() []string {
	n := append([]string(nil), usedKernels...)
	sort.Strings(n)
	return n
}

// kind is the argument kind of a ptx parameter type: 'p' pointer, 'i' int32, 'l' int64, 'f'
// float32.
func kind(t ptx.ParamType) byte {
	switch {
	case t.IsPtr():
		return 'p'
	case t == ptx.I32:
		return 'i'
	case t == ptx.I64:
		return 'l'
	case t == ptx.F32:
		return 'f'
	}
	return '?'
}

type launchSpec struct {
	k     ptx.Kernel
	kinds string
}

var (
	specsOnce sync.Once
	specs     map[string]launchSpec
)

// specOf returns a kernel's table entry and its argument kinds.
func specOf(name string) (launchSpec, error) {
	specsOnce.Do(func() {
		specs = map[string]launchSpec{}
		for _, k := range ptx.Kernels {
			b := make([]byte, len(k.Params))
			for i, p := range k.Params {
				b[i] = kind(p.Type)
			}
			specs[k.Name] = launchSpec{k, string(b)}
		}
	})
	s, ok := specs[name]
	if !ok {
		return s, fmt.Errorf("cuda: kernel %s is not in kernels/cuda/ptx's table", name)
	}
	return s, nil
}

// launchDims returns grid and block for a kernel from its table entry and the sizes its grid
// kind takes:
//
//	GridStride, GridNormBlocks, GridThreads  n
//	GridRows, GridWarpRows                   rows
//	GridCols                                 cols
//	GridColChunks                            cols, rows
//	GridAttnQ, GridAttnKV                    maxSeg, heads, nseg
//	GridSingle                               (none)
func launchDims(k ptx.Kernel, s []int) (driver.Dim3, driver.Dim3, error) {
	at := func(i int) int {
		if i < len(s) {
			return max(s[i], 1)
		}
		return 1
	}
	ceil := func(a, b int) int { return (a + b - 1) / b }
	bs := k.Block
	block := driver.Dim3{X: uint32(bs), Y: 1, Z: 1}
	x, y, z := 1, 1, 1
	switch k.Grid {
	case ptx.GridStride:
		x = int(ptx.GridStrideBlocks(int64(at(0)), bs))
	case ptx.GridRows:
		x = at(0)
	case ptx.GridWarpRows:
		x = ceil(at(0), bs/32)
	case ptx.GridCols:
		x = ceil(at(0), bs)
	case ptx.GridColChunks:
		x, y = ceil(at(0), bs), ceil(at(1), ptx.ColChunkRows)
	case ptx.GridSingle:
	case ptx.GridNormBlocks:
		x = ceil(at(0), ptx.NormBlock)
	case ptx.GridThreads:
		x = ceil(at(0), bs)
	case ptx.GridAttnQ, ptx.GridAttnKV:
		x, y, z = ceil(at(0), ptx.AttnTile), at(1), at(2)
	default:
		return block, block, fmt.Errorf("kernel %s: unknown grid kind %d", k.Name, k.Grid)
	}
	if x > driver.MaxGridX || y > driver.MaxGridYZ || z > driver.MaxGridYZ {
		return block, block, fmt.Errorf("kernel %s: grid (%d, %d, %d) too large", k.Name, x, y, z)
	}
	grid := driver.Dim3{X: uint32(x), Y: uint32(y), Z: uint32(z)}
	return grid, block, driver.CheckLaunch(grid, block)
}

// kargs builds a kernel's arguments and records their kinds, checked against the table.
type kargs struct {
	a     driver.Args
	kinds []byte
}

func (k *kargs) p(v driver.DevicePtr) *kargs { k.a.Ptr(v); k.kinds = append(k.kinds, 'p'); return k }
func (k *kargs) l(v int) *kargs              { k.a.I64(int64(v)); k.kinds = append(k.kinds, 'l'); return k }
func (k *kargs) i(v int) *kargs              { k.a.I32(int32(v)); k.kinds = append(k.kinds, 'i'); return k }
func (k *kargs) f(v float32) *kargs          { k.a.F32(v); k.kinds = append(k.kinds, 'f'); return k }
func (k *kargs) b(v bool) *kargs {
	if v {
		return k.i(1)
	}
	return k.i(0)
}

// checkArgs verifies that args match the kernel's declared parameters.
func checkArgs(name string, k *kargs) (launchSpec, error) {
	s, err := specOf(name)
	if err != nil {
		return s, err
	}
	if string(k.kinds) != s.kinds {
		return s, fmt.Errorf("cuda: kernel %s called with (%s), declared (%s)", name, k.kinds, s.kinds)
	}
	return s, nil
}
