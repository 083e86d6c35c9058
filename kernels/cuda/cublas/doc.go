// Package cublas binds the cuBLAS GEMMs glmflow needs through purego: handle create/destroy,
// stream and math mode, cublasGemmEx and cublasGemmStridedBatchedEx with fp32 or bf16 inputs,
// fp32 output and CUBLAS_COMPUTE_32F, plus a grouped helper (one GemmEx per expert group on
// one stream) for the MoE expert GEMMs.
//
// The library is the highest-versioned libcublas.so.* along the search of
// kernels/cuda/internal/dl (LD_LIBRARY_PATH, /usr/local/cuda/lib64, the nvidia/cublas/lib and
// nvidia/cu13/lib folders of Python wheels); libcublasLt from the same folder is opened first
// so libcublas's dependency resolves without LD_LIBRARY_PATH.
//
// Row-major operands. glmflow's tensors are row-major; cuBLAS is column-major. A row-major
// X [r, c] is, byte for byte, the column-major matrix Xᵀ [c, r] with leading dimension c. So
// the row-major product C [M, N] = op(A) [M, K] · op(B) [K, N] is computed as the column-major
// Cᵀ [N, M] = op(B)ᵀ · op(A)ᵀ, i.e. one cuBLAS call with the operands swapped:
//
//	cuBLAS m, n, k      = N, M, K
//	cuBLAS A, transa    = B, TransB   lda = stored columns of B (N, or K when TransB)
//	cuBLAS B, transb    = A, TransA   ldb = stored columns of A (K, or M when TransA)
//	cuBLAS C            = C           ldc = N
//	strides (batched)   = elements between consecutive matrices; 0 broadcasts one matrix
//
// RowMajor builds these arguments; its test runs them through a column-major reference GEMM
// with cuBLAS's exact semantics and compares with a row-major reference.
//
// Non-goals: cuBLASLt epilogues, fp8, 64-bit-dimension (_64) entry points (every glmflow GEMM
// dimension fits in int32; RowMajor checks).
package cublas
