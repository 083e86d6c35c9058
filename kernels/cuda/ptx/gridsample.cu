// gridsample.cu — bicubic grid_sample (PyTorch, border padding, align_corners=False) of a
// channels-last table [H0, W0, C] at grid [N, 2] (x along W0, y along H0) and its table
// gradient, with the CPU op's operation order (kernels/gridsample: taps, cubic weights with
// A = −0.75, and the fused/unfused multiply-adds of PyTorch's compiled kernel), so F32
// results match the CPU backend bit for bit. Table, out, dout in T storage; grid F32.
//
//   gridsample_forward_T   block 256, grid-stride over N·C (one thread per (point, channel)).
//   gridsample_backward_T  grid H0·W0 (one block owns one table cell), block 256 over the
//                          channels; dtable accumulated (+=). The owner walks the points in
//                          chunks of 64; per 8-point block, taps column j outer, row i inner,
//                          points in order — the CPU's summation order — so no atomics and
//                          the same bits as the CPU.

#define GF_EACH_T(X) X(f32, float) X(bf16, bf16_t)
#define GS_A (-0.75f)

struct gs_point {
  int off[4][4]; // row·W0 + col of each tap
  float wx[4], wy[4];
};

GF_INLINE int gs_clamp(float v, int size) {
  if (!(v > 0.0f)) return 0;
  if (v >= (float)(size - 1)) return size - 1;
  return (int)v;
}
GF_INLINE float gs_outer(float x) {
  float v = GS_A * x - 5.0f * GS_A;
  v = v * x + 8.0f * GS_A;
  return v * x - 4.0f * GS_A;
}
GF_INLINE float gs_inner(float x) {
  float v = (GS_A + 2.0f) * x - (GS_A + 3.0f);
  return gf_fma(v * x, x, 1.0f);
}
GF_INLINE void gs_locate(gs_point* p, float x, float y, int H0, int W0) {
  float ix = gf_fma(x + 1.0f, (float)W0 / 2.0f, -0.5f);
  float iy = gf_fma(y + 1.0f, (float)H0 / 2.0f, -0.5f);
  float fx = __builtin_floorf(ix), fy = __builtin_floorf(iy);
  float tx = ix - fx, ty = iy - fy;
  p->wx[0] = gs_outer(tx + 1.0f);
  p->wx[1] = gs_inner(tx);
  p->wx[2] = gs_inner(1.0f - tx);
  p->wx[3] = gs_outer(2.0f - tx);
  p->wy[0] = gs_outer(ty + 1.0f);
  p->wy[1] = gs_inner(ty);
  p->wy[2] = gs_inner(1.0f - ty);
  p->wy[3] = gs_outer(2.0f - ty);
#pragma unroll
  for (int i = 0; i < 4; i++) {
    int r = gs_clamp(fy + (float)(i - 1), H0);
#pragma unroll
    for (int j = 0; j < 4; j++) p->off[i][j] = r * W0 + gs_clamp(fx + (float)(j - 1), W0);
  }
}

#define K_GS(S, T) \
  GF_KERNEL void gridsample_forward_##S(T* out, const T* table, const float* grid, int H0, int W0, int C, int N) { \
    GF_GRID_STRIDE(q, (i64)N * C) { \
      i64 n = q / C; \
      int c = (int)(q - n * C); \
      gs_point p; \
      gs_locate(&p, grid[2 * n], grid[2 * n + 1], H0, W0); \
      float rr[4]; \
      _Pragma("unroll") for (int i = 0; i < 4; i++) { \
        float t0 = ld(table + (i64)p.off[i][0] * C + c), t1 = ld(table + (i64)p.off[i][1] * C + c); \
        float t2 = ld(table + (i64)p.off[i][2] * C + c), t3 = ld(table + (i64)p.off[i][3] * C + c); \
        float v = gf_fma(p.wx[0], t0, p.wx[1] * t1); \
        v += p.wx[2] * t2; \
        rr[i] = v + p.wx[3] * t3; \
      } \
      float v = gf_fma(p.wy[1], rr[1], p.wy[0] * rr[0]); \
      v = gf_fma(p.wy[2], rr[2], v); \
      st(out + q, gf_fma(p.wy[3], rr[3], v)); \
    } \
  } \
  GF_KERNEL void gridsample_backward_##S(T* dtable, const T* dout, const float* grid, int H0, int W0, int C, int N) { \
    __shared__ float swx[64][4], swy[64][4]; \
    __shared__ unsigned short smask[64]; \
    __shared__ short lp[1024]; \
    __shared__ unsigned char lj[1024], li[1024]; \
    __shared__ int cnt; \
    int cell = blockIdx.x; \
    if (cell >= H0 * W0) return; \
    for (int n0 = 0; n0 < N; n0 += 64) { \
      if (threadIdx.x < 64) { \
        int n = n0 + threadIdx.x; \
        unsigned short m = 0; \
        if (n < N) { \
          gs_point p; \
          gs_locate(&p, grid[2 * (i64)n], grid[2 * (i64)n + 1], H0, W0); \
          for (int i = 0; i < 4; i++) \
            for (int j = 0; j < 4; j++) \
              if (p.off[i][j] == cell) m |= (unsigned short)(1u << (i * 4 + j)); \
          for (int i = 0; i < 4; i++) { swx[threadIdx.x][i] = p.wx[i]; swy[threadIdx.x][i] = p.wy[i]; } \
        } \
        smask[threadIdx.x] = m; \
      } \
      __syncthreads(); \
      if (threadIdx.x == 0) { \
        int c0 = 0; \
        for (int b = 0; b < 64; b += 8) { \
          unsigned any = 0; \
          for (int k = 0; k < 8; k++) any |= smask[b + k]; \
          if (!any) continue; \
          for (int j = 0; j < 4; j++) \
            for (int i = 0; i < 4; i++) \
              for (int k = 0; k < 8; k++) \
                if ((smask[b + k] >> (i * 4 + j)) & 1u) { lp[c0] = (short)(b + k); lj[c0] = (unsigned char)j; li[c0] = (unsigned char)i; c0++; } \
        } \
        cnt = c0; \
      } \
      __syncthreads(); \
      int total = cnt; \
      if (total > 0) { \
        for (int c = threadIdx.x; c < C; c += blockDim.x) { \
          T* d = dtable + (i64)cell * C + c; \
          float acc = ld(d); \
          for (int e = 0; e < total; e++) { \
            int pp = lp[e]; \
            float g = ld(dout + (i64)(n0 + pp) * C + c); \
            acc += (g * swx[pp][lj[e]]) * swy[pp][li[e]]; \
          } \
          st(d, acc); \
        } \
      } \
      __syncthreads(); \
    } \
  }
GF_EACH_T(K_GS)
