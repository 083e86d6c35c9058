// norms.cu — RMSNorm and LayerNorm over the last dimension D, forward and backward, with fp32
// statistics. Row kernels: grid rows, block 256 (one block per row; thread j handles columns
// j, j+256, …; block sums are fixed trees, so results are deterministic). Weight gradients
// are two-pass column sums: *_dw_partial (grid (ceil(D/256), ceil(rows/chunkRows)), block
// 256) then colsum_finish_f32 (elementwise.cu) accumulating into dw/db.
//
// x, out, dx, dout and w are T storage; rstd, mean [rows] and the partials are F32.

#define GF_EACH_T(X) X(f32, float) X(bf16, bf16_t)

// rstd = 1/sqrt(Σx²/D + eps) (correctly rounded from the float sum); out = (x·rstd)·w.
#define K_RMS(S, T) \
  GF_KERNEL void rmsnorm_##S(T* out, float* rstd, const T* x, const T* w, int rows, int D, float eps) { \
    __shared__ float red[32]; \
    int t = blockIdx.x; \
    if (t >= rows) return; \
    const T* xr = x + (i64)t * D; \
    float ss = 0.0f; \
    for (int j = threadIdx.x; j < D; j += blockDim.x) { float v = ld(xr + j); ss = gf_fma(v, v, ss); } \
    ss = gf_block_sum_f32(ss, red); \
    float r = gf_rsqrt_rn(ss / (float)D + eps); \
    if (threadIdx.x == 0) rstd[t] = r; \
    T* o = out + (i64)t * D; \
    for (int j = threadIdx.x; j < D; j += blockDim.x) st(o + j, (ld(xr + j) * r) * ld(w + j)); \
  }
GF_EACH_T(K_RMS)

// dx = rstd·(g − x̂·m), g = dout·w, x̂ = x·rstd, m = Σ(g·x)·rstd/D. dx may alias dout.
#define K_RMS_BWD(S, T) \
  GF_KERNEL void rmsnorm_backward_##S(T* dx, const T* dout, const T* x, const T* w, const float* rstd, int rows, int D) { \
    __shared__ float red[32]; \
    int t = blockIdx.x; \
    if (t >= rows) return; \
    const T* xr = x + (i64)t * D; \
    const T* dy = dout + (i64)t * D; \
    float r = rstd[t], s = 0.0f; \
    for (int j = threadIdx.x; j < D; j += blockDim.x) s = gf_fma(ld(dy + j) * ld(w + j), ld(xr + j), s); \
    float m = gf_block_sum_f32(s, red) * r / (float)D; \
    T* o = dx + (i64)t * D; \
    for (int j = threadIdx.x; j < D; j += blockDim.x) { \
      float g = ld(dy + j) * ld(w + j); \
      st(o + j, r * (g - (ld(xr + j) * r) * m)); \
    } \
  } \
  GF_KERNEL void rmsnorm_dw_partial_##S(float* part, const T* dout, const T* x, const float* rstd, int rows, int D, int chunkRows) { \
    int j = blockIdx.x * blockDim.x + threadIdx.x; \
    if (j >= D) return; \
    int r0 = blockIdx.y * chunkRows, r1 = gf_min(r0 + chunkRows, rows); \
    float s = 0.0f; \
    for (int t = r0; t < r1; t++) { \
      i64 k = (i64)t * D + j; \
      s = gf_fma(ld(dout + k), ld(x + k) * rstd[t], s); \
    } \
    part[(i64)blockIdx.y * D + j] = s; \
  }
GF_EACH_T(K_RMS_BWD)

// mean = Σx/D, rstd = 1/sqrt(Σ(x−mean)²/D + eps) (two passes); out = ((x−mean)·rstd)·w + b.
// b may be null.
#define K_LN(S, T) \
  GF_KERNEL void layernorm_##S(T* out, float* mean, float* rstd, const T* x, const T* w, const T* b, int rows, int D, float eps) { \
    __shared__ float red[32]; \
    int t = blockIdx.x; \
    if (t >= rows) return; \
    const T* xr = x + (i64)t * D; \
    float s = 0.0f; \
    for (int j = threadIdx.x; j < D; j += blockDim.x) s += ld(xr + j); \
    float mu = gf_block_sum_f32(s, red) / (float)D; \
    float q = 0.0f; \
    for (int j = threadIdx.x; j < D; j += blockDim.x) { float c = ld(xr + j) - mu; q = gf_fma(c, c, q); } \
    float r = gf_rsqrt_rn(gf_block_sum_f32(q, red) / (float)D + eps); \
    if (threadIdx.x == 0) { mean[t] = mu; rstd[t] = r; } \
    T* o = out + (i64)t * D; \
    for (int j = threadIdx.x; j < D; j += blockDim.x) { \
      float y = ((ld(xr + j) - mu) * r) * ld(w + j); \
      if (b) y = y + ld(b + j); \
      st(o + j, y); \
    } \
  }
GF_EACH_T(K_LN)

// dx = rstd·(g − mean(g) − x̂·mean(g·x̂)), g = dout·w. dx may alias dout. The partial kernel
// writes pw[c, j] = Σ dout·x̂ and pb[c, j] = Σ dout over the rows of chunk c (pb may be null).
#define K_LN_BWD(S, T) \
  GF_KERNEL void layernorm_backward_##S(T* dx, const T* dout, const T* x, const T* w, const float* mean, const float* rstd, int rows, int D) { \
    __shared__ float red[32]; \
    int t = blockIdx.x; \
    if (t >= rows) return; \
    const T* xr = x + (i64)t * D; \
    const T* dy = dout + (i64)t * D; \
    float mu = mean[t], r = rstd[t], sg = 0.0f, sgx = 0.0f; \
    for (int j = threadIdx.x; j < D; j += blockDim.x) { \
      float g = ld(dy + j) * ld(w + j); \
      sg += g; \
      sgx = gf_fma(g, (ld(xr + j) - mu) * r, sgx); \
    } \
    float mg = gf_block_sum_f32(sg, red) / (float)D; \
    float mgx = gf_block_sum_f32(sgx, red) / (float)D; \
    T* o = dx + (i64)t * D; \
    for (int j = threadIdx.x; j < D; j += blockDim.x) { \
      float g = ld(dy + j) * ld(w + j); \
      float xh = (ld(xr + j) - mu) * r; \
      st(o + j, r * ((g - mg) - xh * mgx)); \
    } \
  } \
  GF_KERNEL void layernorm_dwdb_partial_##S(float* pw, float* pb, const T* dout, const T* x, const float* mean, const float* rstd, int rows, int D, int chunkRows) { \
    int j = blockIdx.x * blockDim.x + threadIdx.x; \
    if (j >= D) return; \
    int r0 = blockIdx.y * chunkRows, r1 = gf_min(r0 + chunkRows, rows); \
    float sw = 0.0f, sb = 0.0f; \
    for (int t = r0; t < r1; t++) { \
      i64 k = (i64)t * D + j; \
      float g = ld(dout + k); \
      sw = gf_fma(g, (ld(x + k) - mean[t]) * rstd[t], sw); \
      sb += g; \
    } \
    pw[(i64)blockIdx.y * D + j] = sw; \
    if (pb) pb[(i64)blockIdx.y * D + j] = sb; \
  }
GF_EACH_T(K_LN_BWD)
