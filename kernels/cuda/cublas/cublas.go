package cublas

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/glmflow/glmflow/kernels/cuda/internal/dl"
)

// Enum values from cublas_api.h and library_types.h.
type (
	Op          int32 // cublasOperation_t
	DataType    int32 // cudaDataType
	ComputeType int32 // cublasComputeType_t
	MathMode    int32 // cublasMath_t
)

const (
	OpN Op = 0
	OpT Op = 1

	R32F  DataType = 0  // CUDA_R_32F
	R16BF DataType = 14 // CUDA_R_16BF

	Compute32F         ComputeType = 68 // CUBLAS_COMPUTE_32F
	Compute32FPedantic ComputeType = 69
	Compute32FFastTF32 ComputeType = 77

	DefaultMath  MathMode = 0
	PedanticMath MathMode = 2
	TF32Math     MathMode = 3

	algoDefault int32 = -1 // CUBLAS_GEMM_DEFAULT
)

// statusNames are cublasStatus_t names.
var statusNames = map[int32]string{
	0: "CUBLAS_STATUS_SUCCESS", 1: "CUBLAS_STATUS_NOT_INITIALIZED", 3: "CUBLAS_STATUS_ALLOC_FAILED",
	7: "CUBLAS_STATUS_INVALID_VALUE", 8: "CUBLAS_STATUS_ARCH_MISMATCH", 11: "CUBLAS_STATUS_MAPPING_ERROR",
	13: "CUBLAS_STATUS_EXECUTION_FAILED", 14: "CUBLAS_STATUS_INTERNAL_ERROR", 15: "CUBLAS_STATUS_NOT_SUPPORTED",
	16: "CUBLAS_STATUS_LICENSE_ERROR",
}

// Error is a failed cuBLAS call.
type Error struct {
	Call   string
	Status int32
}

func (e *Error) Error() string {
	name, ok := statusNames[e.Status]
	if !ok {
		name = fmt.Sprintf("cublasStatus_t(%d)", e.Status)
	}
	return fmt.Sprintf("%s: %s (%d)", e.Call, name, e.Status)
}

func check(call string, s int32) error {
	if s == 0 {
		return nil
	}
	return &Error{call, s}
}

// Lib is a bound libcublas.
type Lib struct {
	Lib *dl.Lib

	create      func(h *uintptr) int32
	destroy     func(h uintptr) int32
	setStream   func(h, s uintptr) int32
	setMathMode func(h uintptr, m int32) int32
	gemmEx      func(h uintptr, ta, tb, m, n, k int32, alpha unsafe.Pointer, a uintptr, at, lda int32,
		b uintptr, bt, ldb int32, beta unsafe.Pointer, c uintptr, ct, ldc int32, compute, algo int32) int32
	gemmStrided func(h uintptr, ta, tb, m, n, k int32, alpha unsafe.Pointer, a uintptr, at, lda int32, sa int64,
		b uintptr, bt, ldb int32, sb int64, beta unsafe.Pointer, c uintptr, ct, ldc int32, sc int64,
		batch, compute, algo int32) int32
}

var (
	defaultOnce sync.Once
	defaultLib  *Lib
	defaultErr  error
)

// Load binds cuBLAS from the default search, once per process.
func Load() (*Lib, error) {
	defaultOnce.Do(func() { defaultLib, defaultErr = LoadFrom(dl.Default()) })
	return defaultLib, defaultErr
}

// LoadFrom binds the highest-versioned libcublas.so.* along s.
func LoadFrom(s dl.Search) (*Lib, error) {
	lib, err := dl.OpenVersioned(s, "cublas", "libcublas.so", "libcublasLt.so")
	if err != nil {
		return nil, fmt.Errorf("cuBLAS: %w", err)
	}
	l := &Lib{Lib: lib}
	b := dl.Binder{Lib: lib}
	b.Bind(&l.create, "cublasCreate_v2")
	b.Bind(&l.destroy, "cublasDestroy_v2")
	b.Bind(&l.setStream, "cublasSetStream_v2")
	b.Bind(&l.setMathMode, "cublasSetMathMode")
	b.Bind(&l.gemmEx, "cublasGemmEx")
	b.Bind(&l.gemmStrided, "cublasGemmStridedBatchedEx")
	if b.Err != nil {
		return nil, fmt.Errorf("cuBLAS: %w", b.Err)
	}
	return l, nil
}

// Handle is a cuBLAS handle bound to the context current at Create.
type Handle struct {
	l *Lib
	h uintptr
}

// Create makes a handle (the CUDA context must be current on this thread).
func (l *Lib) Create() (*Handle, error) {
	var h uintptr
	if err := check("cublasCreate_v2", l.create(&h)); err != nil {
		return nil, err
	}
	return &Handle{l, h}, nil
}

// Destroy releases the handle.
func (h *Handle) Destroy() error { return check("cublasDestroy_v2", h.l.destroy(h.h)) }

// SetStream makes later calls run on stream s (a CUstream; 0 = default stream).
func (h *Handle) SetStream(s uintptr) error {
	return check("cublasSetStream_v2", h.l.setStream(h.h, s))
}

// SetMathMode selects DefaultMath, PedanticMath or TF32Math.
func (h *Handle) SetMathMode(m MathMode) error {
	return check("cublasSetMathMode", h.l.setMathMode(h.h, int32(m)))
}
