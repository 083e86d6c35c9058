// rows.cu — row gathers and scatters: GatherRows (also Embedding forward), ScatterRows,
// ScatterAddRows (also EmbeddingBackward), and index validation.
//
// Row kernels: grid N (one block per index), block 256 over the D columns.
//
// Deterministic scatter-add without atomics or sorting ("first occurrence owns the row"):
// block i handles idx[i] only if no earlier j < i has idx[j] = idx[i] (a block-wide scan of
// idx[0, i)). The owner then walks idx[i, N) in chunks of blockDim.x, compacts the matching
// positions of each chunk in order (warp ballots + a prefix over warps), and adds those
// source rows to dst in index order, one column per thread. So every dst element receives
// dst + src[i1] + src[i2] + … in increasing i — the CPU backend's order, bit for bit for
// F32. Cost: O(U·N/blockDim) index reads for U distinct indices, plus the row adds.

#define GF_EACH_T(X) X(f32, float) X(bf16, bf16_t)

#define K_GATHER(S, T) \
  GF_KERNEL void gather_rows_##S(T* out, const T* src, const int* idx, int N, int D) { \
    int i = blockIdx.x; \
    if (i >= N) return; \
    const T* s = src + (i64)idx[i] * D; \
    T* o = out + (i64)i * D; \
    for (int j = threadIdx.x; j < D; j += blockDim.x) o[j] = s[j]; \
  } \
  GF_KERNEL void scatter_rows_##S(T* dst, const T* src, const int* idx, int N, int D) { \
    int i = blockIdx.x; \
    if (i >= N) return; \
    const T* s = src + (i64)i * D; \
    T* o = dst + (i64)idx[i] * D; \
    for (int j = threadIdx.x; j < D; j += blockDim.x) o[j] = s[j]; \
  }
GF_EACH_T(K_GATHER)

// dst[idx[i]] += src[i] in index order; rows with idx[i] == skip get nothing (embedding
// padding_idx; −1: none). Block 256 (any multiple of 32 up to 1024).
#define K_SCATTER_ADD(S, T) \
  GF_KERNEL void scatter_add_rows_##S(T* dst, const T* src, const int* idx, int N, int D, int skip) { \
    __shared__ int list[1024]; \
    __shared__ int wcount[32]; \
    int i = blockIdx.x; \
    if (i >= N) return; \
    int row = idx[i]; \
    if (row == skip) return; \
    int dup = 0; \
    for (int j = threadIdx.x; j < i; j += blockDim.x) dup |= idx[j] == row; \
    if (__nvvm_bar0_or(dup)) return; \
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5; \
    T* o = dst + (i64)row * D; \
    for (int c0 = i; c0 < N; c0 += blockDim.x) { \
      int a = c0 + threadIdx.x; \
      bool hit = a < N && idx[a] == row; \
      u32 bal = gf_ballot(hit); \
      if (lane == 0) wcount[w] = __builtin_popcount(bal); \
      __syncthreads(); \
      int before = 0, total = 0; \
      for (int k = 0; k < nw; k++) { int c = wcount[k]; if (k < w) before += c; total += c; } \
      if (hit) list[before + __builtin_popcount(bal & ((1u << lane) - 1u))] = a; \
      __syncthreads(); \
      if (total > 0) { \
        for (int j = threadIdx.x; j < D; j += blockDim.x) { \
          float acc = ld(o + j); \
          for (int k = 0; k < total; k++) acc += ld(src + (i64)list[k] * D + j); \
          st(o + j, acc); \
        } \
      } \
      __syncthreads(); \
    } \
  }
GF_EACH_T(K_SCATTER_ADD)

// index_check_i32 finds the first i with idx[i] outside [lo, hi) and idx[i] ≠ allow
// (allow: −100 for CE targets; pass lo − 1 for none) and lowers *bad to it with an integer
// atomicMin (the result — the smallest such i — does not depend on timing). The backend
// sets *bad = 0x7fffffff before the launch and reads it after. Block 256, grid-stride over n.
GF_KERNEL void index_check_i32(int* bad, const int* idx, i64 n, int lo, int hi, int allow) {
  GF_GRID_STRIDE(i, n) {
    int v = idx[i];
    if ((v < lo || v >= hi) && v != allow) __nvvm_atom_min_gen_i(bad, (int)i);
  }
}

// duplicate_check_i32: *bad = smallest i whose idx[i] repeats an earlier index (ScatterRows
// needs distinct rows); grid N, block 256; same protocol as index_check_i32.
GF_KERNEL void duplicate_check_i32(int* bad, const int* idx, int N) {
  int i = blockIdx.x;
  if (i >= N) return;
  int row = idx[i], dup = 0;
  for (int j = threadIdx.x; j < i; j += blockDim.x) dup |= idx[j] == row;
  if (__nvvm_bar0_or(dup) && threadIdx.x == 0) __nvvm_atom_min_gen_i(bad, i);
}
