// softmax.cu — row softmax (+ backward) and cross-entropy over logits (+ backward). One block
// per row (grid rows, block 256); block reductions are fixed trees, so every result is
// deterministic. The LM-head loss runs the same two CE kernels on token blocks of logits that
// the backend computes with cuBLAS (h_b·Wᵀ), so [T, V] is never materialised; the pointers are
// offset to the block's first row.
//
// Statistics: stats [rows, 2] = (row max m, log Σ exp(x − m)) in F32; per-thread Σexp in f32,
// combined across threads in f64; the loss of each row goes to loss [rows] (F64) as
// logΣ + (m − x[target]) in f64 and the host sums it in token order. Ignored rows
// (target −100) get stats (0, 0), loss 0 and zero gradients.

#define GF_EACH_T(X) X(f32, float) X(bf16, bf16_t)
#define GF_IGNORE_INDEX (-100)

// Row max of x[0, C): NaN propagates.
template <typename T>
GF_INLINE float row_max(const T* x, int C, float* red) {
  float m = -__builtin_inff();
  for (int j = threadIdx.x; j < C; j += blockDim.x) m = gf_fmaxnan(m, ld(x + j));
  return gf_block_max_f32(m, red);
}

// y = exp(x − m)/Σ exp(x − m), as exp(x − m)·(1/Σ). out may be x.
#define K_SOFTMAX(S, T) \
  GF_KERNEL void softmax_##S(T* out, const T* x, int rows, int C) { \
    __shared__ float red[32]; \
    int r = blockIdx.x; \
    if (r >= rows) return; \
    const T* xr = x + (i64)r * C; \
    float m = row_max(xr, C, red); \
    float s = 0.0f; \
    for (int j = threadIdx.x; j < C; j += blockDim.x) s += gf_exp(ld(xr + j) - m); \
    float inv = 1.0f / gf_block_sum_f32(s, red); \
    T* o = out + (i64)r * C; \
    for (int j = threadIdx.x; j < C; j += blockDim.x) st(o + j, gf_exp(ld(xr + j) - m) * inv); \
  } \
  GF_KERNEL void softmax_backward_##S(T* dx, const T* dout, const T* y, int rows, int C) { \
    __shared__ float red[32]; \
    int r = blockIdx.x; \
    if (r >= rows) return; \
    const T* yr = y + (i64)r * C; \
    const T* dy = dout + (i64)r * C; \
    float d = 0.0f; \
    for (int j = threadIdx.x; j < C; j += blockDim.x) d = gf_fma(ld(dy + j), ld(yr + j), d); \
    d = gf_block_sum_f32(d, red); \
    T* o = dx + (i64)r * C; \
    for (int j = threadIdx.x; j < C; j += blockDim.x) { float v = ld(yr + j); st(o + j, v * (ld(dy + j) - d)); } \
  }
GF_EACH_T(K_SOFTMAX)

// Cross-entropy forward: stats, per-row loss. targets in [0, V) or −100 (validated by the
// backend before the launch: index_check_i32 in rows.cu).
#define K_CE(S, T) \
  GF_KERNEL void ce_forward_##S(float* stats, double* loss, const T* logits, const int* targets, int rows, int V) { \
    __shared__ float red[32]; \
    __shared__ double redd[32]; \
    int r = blockIdx.x; \
    if (r >= rows) return; \
    int tgt = targets[r]; \
    if (tgt == GF_IGNORE_INDEX) { \
      if (threadIdx.x == 0) { stats[2 * r] = 0.0f; stats[2 * r + 1] = 0.0f; loss[r] = 0.0; } \
      return; \
    } \
    const T* x = logits + (i64)r * V; \
    float m = row_max(x, V, red); \
    float s = 0.0f; \
    for (int j = threadIdx.x; j < V; j += blockDim.x) s += gf_exp(ld(x + j) - m); \
    double sd = gf_block_sum_f64((double)s, redd); \
    if (threadIdx.x == 0) { \
      float logs = gf_log((float)sd); \
      stats[2 * r] = m; \
      stats[2 * r + 1] = logs; \
      loss[r] = (double)logs + ((double)m - (double)ld(x + tgt)); \
    } \
  }
GF_EACH_T(K_CE)

// Cross-entropy backward: dlogits = exp(x − m)·(g·e^−logΣ) − g·onehot; zeros for ignored
// rows. dlogits may be logits (in place: each element is read and written by one thread).
#define K_CE_BWD(S, T) \
  GF_KERNEL void ce_backward_##S(T* dlogits, const T* logits, const float* stats, const int* targets, int rows, int V, float scale) { \
    int r = blockIdx.x; \
    if (r >= rows) return; \
    int tgt = targets[r]; \
    T* d = dlogits + (i64)r * V; \
    if (tgt == GF_IGNORE_INDEX) { \
      for (int j = threadIdx.x; j < V; j += blockDim.x) st(d + j, 0.0f); \
      return; \
    } \
    const T* x = logits + (i64)r * V; \
    float m = stats[2 * r], c = scale * gf_exp(-stats[2 * r + 1]); \
    for (int j = threadIdx.x; j < V; j += blockDim.x) { \
      float v = gf_exp(ld(x + j) - m) * c; \
      if (j == tgt) v = v - scale; \
      st(d + j, v); \
    } \
  }
GF_EACH_T(K_CE_BWD)
