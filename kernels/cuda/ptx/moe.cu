// moe.cu — MoE routing (sigmoid scores, bias-corrected group-limited top-k, normalised
// weights) and its backward, the expert permutation (stable counting sort by expert, no float
// atomics) and the permute / un-permute row moves with their backwards. The router logits
// x·wGateᵀ and dx / dWGate of the router backward are cuBLAS GEMMs run by the backend.
//
// Semantics are kernels/moe's: topIdx best first by (scores + bias), NaN above every number,
// ties to the lower expert; group score = sum of the group's top-2 (larger first); dropped
// groups' experts get −Inf; topW = scores[topIdx] (un-biased), divided by (Σ + 1e-20) when
// normTopK, times scale. Limits (checked by the backend): k ≤ 32, nGroup ≤ 64, topkGroup ≤ 64.

#define GF_EACH_T(X) X(f32, float) X(bf16, bf16_t)
#define GF_MAX_K 32
#define GF_MAX_GROUPS 64

GF_INLINE bool above(float a, int ia, float b, int ib) {
  bool an = a != a, bn = b != b;
  if (an && bn) return ia < ib;
  if (an) return true;
  if (bn) return false;
  return a > b || (a == b && ia < ib);
}

// Streaming top-k insertion (kernels/moe topK): vals/idx hold the n ≤ k best so far.
GF_INLINE void topk_push(float x, int i, float* vals, int* idx, int* n, int k) {
  if (*n == k && !above(x, i, vals[*n - 1], idx[*n - 1])) return;
  int p = *n < k - 1 ? *n : k - 1;
  while (p > 0 && above(x, i, vals[p - 1], idx[p - 1])) {
    vals[p] = vals[p - 1];
    idx[p] = idx[p - 1];
    p--;
  }
  vals[p] = x;
  idx[p] = i;
  if (*n < k) (*n)++;
}

// One thread per token: grid ceil(T/128), block 128.
//   scores [T, E] out, topIdx [T, k] out, topW [T, k] out, logits [T, E], bias [E] or null.
GF_KERNEL void moe_route_f32(float* scores, int* topIdx, float* topW, const float* logits, const float* bias, int T,
                             int E, int k, int nGroup, int topkGroup, int normTopK, float scale) {
  int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= T) return;
  const float* l = logits + (i64)t * E;
  float* s = scores + (i64)t * E;
  for (int e = 0; e < E; e++) s[e] = gf_sigmoid(l[e]);
  u64 kept = ~0ull;
  int gs = E;
  if (nGroup > 1) {
    gs = E / nGroup;
    float gv[GF_MAX_GROUPS];
    int gi[GF_MAX_GROUPS], gn = 0;
    for (int g = 0; g < nGroup; g++) {
      float a = -__builtin_inff(), b = -__builtin_inff();
      int ia = -1, ib = -1;
      for (int i = 0; i < gs; i++) {
        int e = g * gs + i;
        float v = bias ? s[e] + bias[e] : s[e];
        if (ia < 0 || above(v, i, a, ia)) {
          b = a; ib = ia; a = v; ia = i;
        } else if (ib < 0 || above(v, i, b, ib)) {
          b = v; ib = i;
        }
      }
      topk_push(a + b, g, gv, gi, &gn, topkGroup);
    }
    kept = 0;
    for (int j = 0; j < gn; j++) kept |= 1ull << gi[j];
  }
  float vals[GF_MAX_K];
  int idx[GF_MAX_K], n = 0;
  for (int e = 0; e < E; e++) {
    float v = bias ? s[e] + bias[e] : s[e];
    if (!((kept >> (e / gs)) & 1ull)) v = -__builtin_inff();
    topk_push(v, e, vals, idx, &n, k);
  }
  float w[GF_MAX_K], sum = 0.0f;
  for (int j = 0; j < k; j++) {
    w[j] = s[idx[j]];
    sum += w[j];
  }
  float den = sum + 1e-20f;
  for (int j = 0; j < k; j++) {
    float v = normTopK ? w[j] / den : w[j];
    topIdx[(i64)t * k + j] = idx[j];
    topW[(i64)t * k + j] = v * scale;
  }
}

// dLogits [T, E] (overwritten) from dTopW [T, k] and optional dScores [T, E]: through the
// scaling, the renormalisation and the sigmoid (kernels/moe RouterScoresBackward). One
// thread per (t, e): n = T·E, block 256, grid-stride.
GF_KERNEL void moe_router_backward_f32(float* dLogits, const float* dTopW, const float* dScores, const float* scores,
                                       const int* topIdx, int T, int E, int k, int normTopK, float scale) {
  GF_GRID_STRIDE(q, (i64)T * E) {
    i64 t = q / E;
    int e = (int)(q - t * E);
    const float* s = scores + t * E;
    const float* g = dTopW + t * k;
    const int* idx = topIdx + t * k;
    float dl = dScores ? dScores[q] : 0.0f;
    if (normTopK) {
      float sum = 0.0f, gsum = 0.0f;
      for (int j = 0; j < k; j++) {
        sum += s[idx[j]];
        gsum += g[j] * s[idx[j]];
      }
      float den = sum + 1e-20f, m = gsum / den;
      for (int j = 0; j < k; j++)
        if (idx[j] == e) dl += scale * (g[j] - m) / den;
    } else {
      for (int j = 0; j < k; j++)
        if (idx[j] == e) dl += scale * g[j];
    }
    float se = s[e];
    dLogits[q] = dl * (se * (1.0f - se));
  }
}

// Permutation, pass 1: counts[e] = #{a : topIdx[a] = e}, a < R = T·k. Grid E, block 256.
GF_KERNEL void moe_count(int* counts, const int* topIdx, int R) {
  __shared__ int red[32];
  int e = blockIdx.x, c = 0;
  for (int a = threadIdx.x; a < R; a += blockDim.x) c += topIdx[a] == e;
  c = gf_block_sum_i32(c, red);
  if (threadIdx.x == 0) counts[e] = c;
}

// Pass 2: offs [E+1] = exclusive prefix sum of counts, offs[E] = R. Grid 1, block 1.
GF_KERNEL void moe_offsets(int* offs, const int* counts, int E) {
  if (threadIdx.x != 0 || blockIdx.x != 0) return;
  int s = 0;
  for (int e = 0; e < E; e++) {
    offs[e] = s;
    s += counts[e];
  }
  offs[E] = s;
}

// Pass 3: block e walks topIdx in order and gives its assignments consecutive rows from
// offs[e] (stable in (t, j) order): rowSrc[r] = a, pos[a] = r. Grid E, block 256.
GF_KERNEL void moe_place(int* rowSrc, int* pos, const int* topIdx, const int* offs, int R) {
  __shared__ int wcount[32];
  int e = blockIdx.x;
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
  int base = offs[e];
  for (int c0 = 0; c0 < R; c0 += blockDim.x) {
    int a = c0 + threadIdx.x;
    bool hit = a < R && topIdx[a] == e;
    u32 bal = gf_ballot(hit);
    if (lane == 0) wcount[w] = __builtin_popcount(bal);
    __syncthreads();
    int before = 0, total = 0;
    for (int q = 0; q < nw; q++) {
      int c = wcount[q];
      if (q < w) before += c;
      total += c;
    }
    if (hit) {
      int r = base + before + __builtin_popcount(bal & ((1u << lane) - 1u));
      rowSrc[r] = a;
      pos[a] = r;
    }
    base += total;
    __syncthreads();
  }
}

// Permute: xPerm[r] = x[rowSrc[r]/k]. Grid R = T·k, block 256 over D.
// PermuteBackward: dx[t] = Σ_j dXPerm[pos[t·k+j]] in j order (overwritten). Grid T.
// Unpermute: out[t] = Σ_j topW[t,j]·yPerm[pos[t·k+j]] in j order (fma). Grid T.
// UnpermuteBackward: dYPerm[pos[t·k+j]] = topW[t,j]·dout[t]; dTopW[t,j] = dout[t]·yPerm[...]
// (f32 block sum). Grid T.
#define K_PERM(S, T) \
  GF_KERNEL void moe_permute_##S(T* xPerm, const T* x, const int* rowSrc, int R, int D, int k) { \
    int r = blockIdx.x; \
    if (r >= R) return; \
    const T* src = x + (i64)(rowSrc[r] / k) * D; \
    T* o = xPerm + (i64)r * D; \
    for (int j = threadIdx.x; j < D; j += blockDim.x) o[j] = src[j]; \
  } \
  GF_KERNEL void moe_permute_backward_##S(T* dx, const T* dXPerm, const int* pos, int Tn, int D, int k) { \
    int t = blockIdx.x; \
    if (t >= Tn) return; \
    T* o = dx + (i64)t * D; \
    for (int j = threadIdx.x; j < D; j += blockDim.x) { \
      float s = ld(dXPerm + (i64)pos[(i64)t * k] * D + j); \
      for (int q = 1; q < k; q++) s += ld(dXPerm + (i64)pos[(i64)t * k + q] * D + j); \
      st(o + j, s); \
    } \
  } \
  GF_KERNEL void moe_unpermute_##S(T* out, const T* yPerm, const int* pos, const float* topW, int Tn, int D, int k) { \
    int t = blockIdx.x; \
    if (t >= Tn) return; \
    T* o = out + (i64)t * D; \
    for (int j = threadIdx.x; j < D; j += blockDim.x) { \
      float s = 0.0f; \
      for (int q = 0; q < k; q++) s = gf_fma(topW[(i64)t * k + q], ld(yPerm + (i64)pos[(i64)t * k + q] * D + j), s); \
      st(o + j, s); \
    } \
  } \
  GF_KERNEL void moe_unpermute_backward_##S(T* dYPerm, float* dTopW, const T* dout, const T* yPerm, const int* pos, const float* topW, int Tn, int D, int k) { \
    __shared__ float red[32]; \
    int t = blockIdx.x; \
    if (t >= Tn) return; \
    const T* g = dout + (i64)t * D; \
    for (int q = 0; q < k; q++) { \
      i64 r = pos[(i64)t * k + q]; \
      float w = topW[(i64)t * k + q], d = 0.0f; \
      for (int j = threadIdx.x; j < D; j += blockDim.x) { \
        float gj = ld(g + j); \
        d = gf_fma(gj, ld(yPerm + r * D + j), d); \
        st(dYPerm + r * D + j, w * gj); \
      } \
      d = gf_block_sum_f32(d, red); \
      if (threadIdx.x == 0) dTopW[(i64)t * k + q] = d; \
    } \
  }
GF_EACH_T(K_PERM)
