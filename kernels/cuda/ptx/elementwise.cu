// elementwise.cu — Add/Mul/Scale (+ backward), AddBias, SiLU, exact GELU, SwiGLU, SwiGLUFused
// (+ backward), Cast, and the deterministic column sums behind AddBiasBackward.
//
// Every kernel is instantiated for float (_f32) and bf16 (_bf16) storage of its T tensors and
// computes in float. Launch: block 256, any grid (grid-stride loops over n elements with
// 64-bit indices); see doc.go for the grid the backend uses.

#define GF_EACH_T(X) X(f32, float) X(bf16, bf16_t)

#define K_ADD(S, T) \
  GF_KERNEL void add_##S(T* out, const T* a, const T* b, i64 n) { \
    GF_GRID_STRIDE(i, n) st(out + i, ld(a + i) + ld(b + i)); \
  }
GF_EACH_T(K_ADD)

#define K_MUL(S, T) \
  GF_KERNEL void mul_##S(T* out, const T* a, const T* b, i64 n) { \
    GF_GRID_STRIDE(i, n) st(out + i, ld(a + i) * ld(b + i)); \
  }
GF_EACH_T(K_MUL)

// da = dout·b, db = dout·a; either may be null. Every input is read before an output is
// written, so da/db may alias dout, a or b (not each other).
#define K_MUL_BWD(S, T) \
  GF_KERNEL void mul_backward_##S(T* da, T* db, const T* dout, const T* a, const T* b, i64 n) { \
    GF_GRID_STRIDE(i, n) { \
      float g = ld(dout + i), x = ld(a + i), y = ld(b + i); \
      if (da) st(da + i, g * y); \
      if (db) st(db + i, g * x); \
    } \
  }
GF_EACH_T(K_MUL_BWD)

// out = alpha·x (also ScaleBackward and the gradient clipping step).
#define K_SCALE(S, T) \
  GF_KERNEL void scale_##S(T* out, const T* x, float alpha, i64 n) { \
    GF_GRID_STRIDE(i, n) st(out + i, alpha * ld(x + i)); \
  }
GF_EACH_T(K_SCALE)

// out[r, j] = x[r, j] + bias[j]; out, x [rows, cols] (n = rows·cols), bias [cols].
#define K_ADD_BIAS(S, T) \
  GF_KERNEL void add_bias_##S(T* out, const T* x, const T* bias, i64 n, int cols) { \
    GF_GRID_STRIDE(i, n) st(out + i, ld(x + i) + ld(bias + i % cols)); \
  }
GF_EACH_T(K_ADD_BIAS)

// Column sums, pass 1: part[c, j] = Σ_{r in chunk c} x[r, j] in row order, chunk c = rows
// [c·chunkRows, (c+1)·chunkRows). Grid (ceil(cols/256), ceil(rows/chunkRows)), block 256.
#define K_COLSUM_PART(S, T) \
  GF_KERNEL void colsum_partial_##S(float* part, const T* x, int rows, int cols, int chunkRows) { \
    int j = blockIdx.x * blockDim.x + threadIdx.x; \
    if (j >= cols) return; \
    int r0 = blockIdx.y * chunkRows, r1 = gf_min(r0 + chunkRows, rows); \
    float s = 0.0f; \
    for (int r = r0; r < r1; r++) s += ld(x + (i64)r * cols + j); \
    part[(i64)blockIdx.y * cols + j] = s; \
  }
GF_EACH_T(K_COLSUM_PART)

// Column sums, pass 2: dst[j] += Σ_c part[c, j] in chunk order (accumulates: bias and norm
// weight gradients). Grid ceil(cols/256), block 256.
GF_KERNEL void colsum_finish_f32(float* dst, const float* part, int chunks, int cols) {
  int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= cols) return;
  float s = 0.0f;
  for (int c = 0; c < chunks; c++) s += part[(i64)c * cols + j];
  dst[j] += s;
}

#define K_SILU(S, T) \
  GF_KERNEL void silu_##S(T* out, const T* x, i64 n) { \
    GF_GRID_STRIDE(i, n) { \
      float v = ld(x + i); \
      st(out + i, v * gf_sigmoid(v)); \
    } \
  } \
  GF_KERNEL void silu_backward_##S(T* dx, const T* dout, const T* x, i64 n) { \
    GF_GRID_STRIDE(i, n) { \
      float v = ld(x + i), s = gf_sigmoid(v); \
      st(dx + i, ld(dout + i) * s * (1.0f + v * (1.0f - s))); \
    } \
  }
GF_EACH_T(K_SILU)

// Exact GELU: out = x·Φ(x); dx = dout·(Φ(x) + x·φ(x)).
#define K_GELU(S, T) \
  GF_KERNEL void gelu_##S(T* out, const T* x, i64 n) { \
    GF_GRID_STRIDE(i, n) { \
      float v = ld(x + i), e, c, d; \
      gf_normal(v, &e, &c, &d); \
      st(out + i, v * c); \
    } \
  } \
  GF_KERNEL void gelu_backward_##S(T* dx, const T* dout, const T* x, i64 n) { \
    GF_GRID_STRIDE(i, n) { \
      float v = ld(x + i), e, c, d; \
      gf_normal(v, &e, &c, &d); \
      st(dx + i, ld(dout + i) * gf_fma(v * d, GF_INV_SQRT_2PI, c)); \
    } \
  }
GF_EACH_T(K_GELU)

// SwiGLU: out = (g·σ(g))·u. Backward: du = dout·silu(g), dg = dout·u·σ(g)·(1 + g·(1−σ(g))).
GF_INLINE void swiglu_grad(float dout, float g, float u, float* dg, float* du) {
  float s = gf_sigmoid(g);
  *du = dout * (g * s);
  *dg = dout * u * s * (1.0f + g * (1.0f - s));
}
#define K_SWIGLU(S, T) \
  GF_KERNEL void swiglu_##S(T* out, const T* g, const T* u, i64 n) { \
    GF_GRID_STRIDE(i, n) { \
      float gv = ld(g + i); \
      st(out + i, gv * gf_sigmoid(gv) * ld(u + i)); \
    } \
  } \
  GF_KERNEL void swiglu_backward_##S(T* dg, T* du, const T* dout, const T* g, const T* u, i64 n) { \
    GF_GRID_STRIDE(i, n) { \
      float a, b; \
      swiglu_grad(ld(dout + i), ld(g + i), ld(u + i), &a, &b); \
      st(dg + i, a); \
      st(du + i, b); \
    } \
  }
GF_EACH_T(K_SWIGLU)

// Fused gate_up [T, 2F] (gate in columns [0, F), up in [F, 2F)) → out [T, F]; n = T·F.
#define K_SWIGLU_FUSED(S, T) \
  GF_KERNEL void swiglu_fused_##S(T* out, const T* gu, i64 n, int F) { \
    GF_GRID_STRIDE(i, n) { \
      i64 t = i / F, f = i - t * F; \
      const T* row = gu + t * 2 * F; \
      float gv = ld(row + f); \
      st(out + i, gv * gf_sigmoid(gv) * ld(row + F + f)); \
    } \
  } \
  GF_KERNEL void swiglu_fused_backward_##S(T* dgu, const T* dout, const T* gu, i64 n, int F) { \
    GF_GRID_STRIDE(i, n) { \
      i64 t = i / F, f = i - t * F; \
      const T* row = gu + t * 2 * F; \
      float a, b; \
      swiglu_grad(ld(dout + i), ld(row + f), ld(row + F + f), &a, &b); \
      st(dgu + t * 2 * F + f, a); \
      st(dgu + t * 2 * F + F + f, b); \
    } \
  }
GF_EACH_T(K_SWIGLU_FUSED)

// Cast: F32 → BF16 rounds to nearest even (NaN stays NaN); BF16 → F32 is exact.
GF_KERNEL void cast_f32_to_bf16(bf16_t* dst, const float* src, i64 n) {
  GF_GRID_STRIDE(i, n) dst[i] = gf_f32_to_bf16(src[i]);
}
GF_KERNEL void cast_bf16_to_f32(float* dst, const bf16_t* src, i64 n) {
  GF_GRID_STRIDE(i, n) dst[i] = gf_bf16_to_f32(src[i]);
}
