// attention.cu — multi-head attention with GQA over packed segments, FlashAttention-2 style
// (scores tile by tile with an online softmax; the backward recomputes P from q, k and the
// saved lse). fp32 compute and statistics; q, k, v, o, do, dq, dk, dv in T storage; lse,
// dsum [H, T] F32; cu [nseg+1] I32 segment starts (cu[0] = 0, cu[nseg] = T); keyPad [T] bytes
// (1 = padding key) or null. bf16ops ≠ 0 rounds the tile-product operands to bf16 (q, k, v,
// do when loaded, P and dS per tile) with fp32 accumulation (AttentionOpts.BF16).
//
// Visibility: key j is visible to query i when both lie in the same segment, j ≤ i if causal,
// and keyPad[j] = 0. A query with no visible key gets o = 0, lse = +Inf, zero gradients.
//
// Launch (block 128 = 16 rows × 8 lanes; Dh ≤ 128; static shared memory < 48 KiB):
//   attention_forward_T   grid (ceil(maxSeg/16), H, nseg): one block per 16 queries of one
//                         head; key tiles of 32.
//   attention_bwd_dsum_T  grid ceil(T·H/4), block 128: one warp per (t, h), dsum = Σ do·o.
//   attention_bwd_dkv_T   grid (ceil(maxSeg/16), K, nseg): one block owns 16 keys of one kv
//                         head and walks every query head of its group and every query tile
//                         (16) in order, so dK/dV need no atomics.
//   attention_bwd_dq_T    grid (ceil(maxSeg/16), H, nseg): one block owns 16 queries of one
//                         head and walks the key tiles (16) in order.
// maxSeg = the longest segment. Every output element is produced by one thread with a fixed
// operation order: results are deterministic.

#define GF_EACH_T(X) X(f32, float) X(bf16, bf16_t)
#define ATT_DMAX 128
#define ATT_LD (ATT_DMAX + 1)
#define ATT_NACC (ATT_DMAX / 8)

GF_INLINE float att_opnd(float v, int bf16ops) { return bf16ops ? gf_round_bf16(v) : v; }

// Loads rows [r0, r0+n) of head hh of a [T, NH, Dh] tensor into sh [n][ATT_LD]; rows ≥ lim
// are zero.
template <typename T>
GF_INLINE void att_load(float (*sh)[ATT_LD], const T* x, int r0, int n, int lim, int NH, int hh, int Dh, int bf16ops) {
  for (int e = threadIdx.x; e < n * Dh; e += blockDim.x) {
    int rr = e / Dh, d = e - rr * Dh, t = r0 + rr;
    float v = t < lim ? ld(x + ((i64)t * NH + hh) * Dh + d) : 0.0f;
    sh[rr][d] = att_opnd(v, bf16ops);
  }
}

GF_INLINE float att_dot(const float* a, const float* b, int Dh) {
  float s = 0.0f;
  for (int d = 0; d < Dh; d++) s = gf_fma(a[d], b[d], s);
  return s;
}

GF_INLINE bool att_visible(int qi, int kj, int qlim, int klim, int causal, const unsigned char* keyPad) {
  return qi < qlim && kj < klim && (!causal || kj <= qi) && !(keyPad && keyPad[kj]);
}

template <typename T>
GF_INLINE void att_fwd(T* o, float* lse, const T* q, const T* k, const T* v, const int* cu, const unsigned char* keyPad,
                       int Tn, int H, int K, int Dh, float scale, int causal, int bf16ops) {
  __shared__ float Qs[16][ATT_LD];
  __shared__ float Ks[32][ATT_LD];
  __shared__ float Vs[32][ATT_LD];
  __shared__ float Ps[16][33];
  int seg = blockIdx.z, h = blockIdx.y;
  int s0 = cu[seg], s1 = cu[seg + 1];
  int q0 = s0 + blockIdx.x * 16;
  if (q0 >= s1) return;
  int kh = h / (H / K);
  int r = threadIdx.x >> 3, c8 = threadIdx.x & 7, qi = q0 + r;
  att_load(Qs, q, q0, 16, s1, H, h, Dh, bf16ops);
  float m = -__builtin_inff(), l = 0.0f, acc[ATT_NACC];
  #pragma unroll
  for (int i = 0; i < ATT_NACC; i++) acc[i] = 0.0f;
  int kend = causal ? gf_min(s1, q0 + 16) : s1;
  for (int k0 = s0; k0 < kend; k0 += 32) {
    __syncthreads();
    att_load(Ks, k, k0, 32, kend, K, kh, Dh, bf16ops);
    att_load(Vs, v, k0, 32, kend, K, kh, Dh, bf16ops);
    __syncthreads();
    float sv[4], mt = -__builtin_inff();
    bool vis[4];
    #pragma unroll
    for (int jj = 0; jj < 4; jj++) {
      int c = c8 + 8 * jj;
      vis[jj] = att_visible(qi, k0 + c, s1, kend, causal, keyPad);
      sv[jj] = vis[jj] ? att_dot(Qs[r], Ks[c], Dh) * scale : -__builtin_inff();
      mt = gf_fmaxnan(mt, sv[jj]);
    }
    for (int x = 1; x < 8; x <<= 1) mt = gf_fmaxnan(mt, gf_shfl_xor_f32(mt, x));
    float mn = gf_fmaxnan(m, mt);
    bool any = mn != -__builtin_inff();
    float alpha = (m == -__builtin_inff()) ? 0.0f : gf_exp(m - mn);
    float ps = 0.0f;
    #pragma unroll
    for (int jj = 0; jj < 4; jj++) {
      float p = (vis[jj] && any) ? gf_exp(sv[jj] - mn) : 0.0f;
      ps += p;
      Ps[r][c8 + 8 * jj] = att_opnd(p, bf16ops);
    }
    for (int x = 1; x < 8; x <<= 1) ps += gf_shfl_xor_f32(ps, x);
    if (any) {
      l = l * alpha + ps;
      #pragma unroll
      for (int i = 0; i < ATT_NACC; i++) acc[i] *= alpha;
      m = mn;
    }
    __syncthreads();
    for (int j = 0; j < 32; j++) {
      float p = Ps[r][j];
      #pragma unroll
      for (int i = 0; i < ATT_NACC; i++) {
        int d = c8 + 8 * i;
        if (d < Dh) acc[i] = gf_fma(p, Vs[j][d], acc[i]);
      }
    }
  }
  if (qi >= s1) return;
  bool none = l == 0.0f;
  float inv = none ? 0.0f : 1.0f / l;
  T* orow = o + ((i64)qi * H + h) * Dh;
  #pragma unroll
  for (int i = 0; i < ATT_NACC; i++) {
    int d = c8 + 8 * i;
    if (d < Dh) st(orow + d, acc[i] * inv);
  }
  if (c8 == 0) lse[(i64)h * Tn + qi] = none ? __builtin_inff() : m + gf_log(l);
}

template <typename T>
GF_INLINE void att_dsum(float* dsum, const T* o, const T* dout, int Tn, int H, int Dh) {
  i64 row = (i64)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
  if (row >= (i64)Tn * H) return;
  int lane = threadIdx.x & 31;
  i64 t = row / H, h = row - t * H;
  const T* a = o + row * Dh;
  const T* b = dout + row * Dh;
  float s = 0.0f;
  for (int d = lane; d < Dh; d += 32) s = gf_fma(ld(a + d), ld(b + d), s);
  s = gf_warp_sum_f32(s);
  if (lane == 0) dsum[h * Tn + t] = s;
}

// P and dS of query qi, key kj (head h): the recomputed probability and P·(dP − dsum).
GF_INLINE void att_pds(float* p, float* ds, const float* qrow, const float* krow, const float* dorow, const float* vrow,
                       bool vis, float lsev, float dsv, float scale, int Dh) {
  if (!vis || lsev == __builtin_inff()) {
    *p = 0.0f;
    *ds = 0.0f;
    return;
  }
  float pv = gf_exp(att_dot(qrow, krow, Dh) * scale - lsev);
  float dp = att_dot(dorow, vrow, Dh);
  *p = pv;
  *ds = pv * (dp - dsv);
}

template <typename T>
GF_INLINE void att_dkv(T* dk, T* dv, const T* q, const T* k, const T* v, const T* dout, const float* lse, const float* dsum,
                       const int* cu, const unsigned char* keyPad, int Tn, int H, int K, int Dh, float scale, int causal,
                       int bf16ops) {
  __shared__ float Ks[16][ATT_LD];
  __shared__ float Vs[16][ATT_LD];
  __shared__ float Qs[16][ATT_LD];
  __shared__ float Os[16][ATT_LD];
  __shared__ float Ps[16][17];
  __shared__ float Ss[16][17];
  __shared__ float Ls[16], Ds[16];
  int seg = blockIdx.z, kh = blockIdx.y, G = H / K;
  int s0 = cu[seg], s1 = cu[seg + 1];
  int k0 = s0 + blockIdx.x * 16;
  if (k0 >= s1) return;
  int c = threadIdx.x >> 3, q8 = threadIdx.x & 7, kj = k0 + c;
  att_load(Ks, k, k0, 16, s1, K, kh, Dh, bf16ops);
  att_load(Vs, v, k0, 16, s1, K, kh, Dh, bf16ops);
  float ak[ATT_NACC], av[ATT_NACC];
  #pragma unroll
  for (int i = 0; i < ATT_NACC; i++) ak[i] = av[i] = 0.0f;
  int qstart = causal ? k0 : s0;
  for (int g = 0; g < G; g++) {
    int h = kh * G + g;
    for (int qt = qstart; qt < s1; qt += 16) {
      __syncthreads();
      att_load(Qs, q, qt, 16, s1, H, h, Dh, bf16ops);
      att_load(Os, dout, qt, 16, s1, H, h, Dh, bf16ops);
      if (threadIdx.x < 16) {
        int t = qt + threadIdx.x;
        Ls[threadIdx.x] = t < s1 ? lse[(i64)h * Tn + t] : __builtin_inff();
        Ds[threadIdx.x] = t < s1 ? dsum[(i64)h * Tn + t] : 0.0f;
      }
      __syncthreads();
      #pragma unroll
      for (int jj = 0; jj < 2; jj++) {
        int qq = q8 + 8 * jj;
        float p, ds;
        att_pds(&p, &ds, Qs[qq], Ks[c], Os[qq], Vs[c], att_visible(qt + qq, kj, s1, s1, causal, keyPad), Ls[qq], Ds[qq],
                scale, Dh);
        Ps[c][qq] = att_opnd(p, bf16ops);
        Ss[c][qq] = att_opnd(ds, bf16ops);
      }
      __syncthreads();
      for (int qq = 0; qq < 16; qq++) {
        float p = Ps[c][qq], ds = Ss[c][qq];
        #pragma unroll
        for (int i = 0; i < ATT_NACC; i++) {
          int d = q8 + 8 * i;
          if (d < Dh) {
            av[i] = gf_fma(p, Os[qq][d], av[i]);
            ak[i] = gf_fma(ds, Qs[qq][d], ak[i]);
          }
        }
      }
    }
  }
  if (kj >= s1) return;
  T* dkr = dk + ((i64)kj * K + kh) * Dh;
  T* dvr = dv + ((i64)kj * K + kh) * Dh;
  #pragma unroll
  for (int i = 0; i < ATT_NACC; i++) {
    int d = q8 + 8 * i;
    if (d < Dh) {
      st(dkr + d, ak[i] * scale);
      st(dvr + d, av[i]);
    }
  }
}

template <typename T>
GF_INLINE void att_dq(T* dq, const T* q, const T* k, const T* v, const T* dout, const float* lse, const float* dsum,
                      const int* cu, const unsigned char* keyPad, int Tn, int H, int K, int Dh, float scale, int causal,
                      int bf16ops) {
  __shared__ float Qs[16][ATT_LD];
  __shared__ float Os[16][ATT_LD];
  __shared__ float Ks[16][ATT_LD];
  __shared__ float Vs[16][ATT_LD];
  __shared__ float Ss[16][17];
  int seg = blockIdx.z, h = blockIdx.y;
  int s0 = cu[seg], s1 = cu[seg + 1];
  int q0 = s0 + blockIdx.x * 16;
  if (q0 >= s1) return;
  int kh = h / (H / K);
  int r = threadIdx.x >> 3, c8 = threadIdx.x & 7, qi = q0 + r;
  att_load(Qs, q, q0, 16, s1, H, h, Dh, bf16ops);
  att_load(Os, dout, q0, 16, s1, H, h, Dh, bf16ops);
  float lsev = qi < s1 ? lse[(i64)h * Tn + qi] : __builtin_inff();
  float dsv = qi < s1 ? dsum[(i64)h * Tn + qi] : 0.0f;
  float acc[ATT_NACC];
  #pragma unroll
  for (int i = 0; i < ATT_NACC; i++) acc[i] = 0.0f;
  int kend = causal ? gf_min(s1, q0 + 16) : s1;
  for (int k0 = s0; k0 < kend; k0 += 16) {
    __syncthreads();
    att_load(Ks, k, k0, 16, kend, K, kh, Dh, bf16ops);
    att_load(Vs, v, k0, 16, kend, K, kh, Dh, bf16ops);
    __syncthreads();
    #pragma unroll
    for (int jj = 0; jj < 2; jj++) {
      int c = c8 + 8 * jj;
      float p, ds;
      att_pds(&p, &ds, Qs[r], Ks[c], Os[r], Vs[c], att_visible(qi, k0 + c, s1, kend, causal, keyPad), lsev, dsv, scale, Dh);
      Ss[r][c] = att_opnd(ds, bf16ops);
    }
    __syncthreads();
    for (int c = 0; c < 16; c++) {
      float ds = Ss[r][c];
      #pragma unroll
      for (int i = 0; i < ATT_NACC; i++) {
        int d = c8 + 8 * i;
        if (d < Dh) acc[i] = gf_fma(ds, Ks[c][d], acc[i]);
      }
    }
  }
  if (qi >= s1) return;
  T* row = dq + ((i64)qi * H + h) * Dh;
  #pragma unroll
  for (int i = 0; i < ATT_NACC; i++) {
    int d = c8 + 8 * i;
    if (d < Dh) st(row + d, acc[i] * scale);
  }
}

#define K_ATT(S, T) \
  GF_KERNEL void attention_forward_##S(T* o, float* lse, const T* q, const T* k, const T* v, const int* cu, \
                                       const unsigned char* keyPad, int Tn, int H, int K, int Dh, float scale, int causal, int bf16ops) { \
    att_fwd<T>(o, lse, q, k, v, cu, keyPad, Tn, H, K, Dh, scale, causal, bf16ops); \
  } \
  GF_KERNEL void attention_bwd_dsum_##S(float* dsum, const T* o, const T* dout, int Tn, int H, int Dh) { \
    att_dsum<T>(dsum, o, dout, Tn, H, Dh); \
  } \
  GF_KERNEL void attention_bwd_dkv_##S(T* dk, T* dv, const T* q, const T* k, const T* v, const T* dout, const float* lse, \
                                       const float* dsum, const int* cu, const unsigned char* keyPad, int Tn, int H, int K, \
                                       int Dh, float scale, int causal, int bf16ops) { \
    att_dkv<T>(dk, dv, q, k, v, dout, lse, dsum, cu, keyPad, Tn, H, K, Dh, scale, causal, bf16ops); \
  } \
  GF_KERNEL void attention_bwd_dq_##S(T* dq, const T* q, const T* k, const T* v, const T* dout, const float* lse, \
                                      const float* dsum, const int* cu, const unsigned char* keyPad, int Tn, int H, int K, \
                                      int Dh, float scale, int causal, int bf16ops) { \
    att_dq<T>(dq, q, k, v, dout, lse, dsum, cu, keyPad, Tn, H, K, Dh, scale, causal, bf16ops); \
  }
GF_EACH_T(K_ATT)
