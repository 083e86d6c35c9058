// optim.cu — AdamW and the gradient-norm partial sums.
//
// adamw_f32: the update of kernels/optim (torch _single_tensor_adamw), operation for
// operation: m' = fma(c1, g, m·b1); v' = fma(c2·g, g, v·b2); den = sqrt(v')/bc2Sqrt + eps;
// p' = p·decay + (stepSize·m')/den. The eight scalars are formed on the host in float64 and
// rounded to float32 (AdamWScalars in scalars.go), so with the CPU's FMA path the results
// are bit-identical. Block 256, grid-stride over n.
GF_KERNEL void adamw_f32(float* p, const float* g, float* m, float* v, i64 n, float decay, float b1, float c1,
                         float b2, float c2, float stepSize, float bc2Sqrt, float eps) {
  GF_GRID_STRIDE(i, n) {
    float gi = g[i];
    float mi = gf_fma(c1, gi, m[i] * b1);
    float vi = gf_fma(c2 * gi, gi, v[i] * b2);
    m[i] = mi;
    v[i] = vi;
    float den = __builtin_sqrtf(vi) / bc2Sqrt + eps;
    p[i] = p[i] * decay + (stepSize * mi) / den;
  }
}

// Global norm, pass 1: part[b] = Σ x[i]² (f64) over block b's slice [b·4096, (b+1)·4096) ∩
// [0, n): thread t adds elements t, t+256, … in order, then a fixed f64 tree. Grid
// ceil(n/4096), block 256 (exactly). A caller with several tensors launches once per tensor
// into consecutive slots of one part buffer.
#define GF_NORM_BLOCK 4096
#define GF_EACH_T(X) X(f32, float) X(bf16, bf16_t)
#define K_SUMSQ(S, T) \
  GF_KERNEL void sumsq_partial_##S(double* part, const T* x, i64 n) { \
    __shared__ double red[32]; \
    i64 lo = (i64)blockIdx.x * GF_NORM_BLOCK, hi = gf_min64(lo + GF_NORM_BLOCK, n); \
    double s = 0.0; \
    for (i64 i = lo + threadIdx.x; i < hi; i += blockDim.x) { double v = (double)ld(x + i); s = __builtin_fma(v, v, s); } \
    s = gf_block_sum_f64(s, red); \
    if (threadIdx.x == 0) part[blockIdx.x] = s; \
  }
GF_EACH_T(K_SUMSQ)

// Pass 2: out[0] = Σ part[0, n) in a fixed order (thread t adds t, t+256, …; then the tree).
// Grid 1, block 256. The norm is sqrt(out[0]) on the host.
GF_KERNEL void sum_f64(double* out, const double* part, int n) {
  __shared__ double red[32];
  double s = 0.0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) s += part[i];
  s = gf_block_sum_f64(s, red);
  if (threadIdx.x == 0) out[0] = s;
}
