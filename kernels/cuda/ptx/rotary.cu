// rotary.cu — rotary position embedding on the first R dims of every head, NeoX half-split
// pairing (kernels/rotary): out[i] = x[i]·cos[i] − x[i+R/2]·sin[i], out[i+R/2] =
// x[i+R/2]·cos[i] + x[i]·sin[i] for i < R/2; dims [R, Dh) are copied. Each product is rounded
// before the sum (compiled with -ffp-contract=off), as the CPU op and PyTorch's fp32 path, so
// fp32 results are bit-identical to them. The tables cos, sin [T, R/2] (F32) hold one row per
// token, which covers 1-D RoPE, text MRoPE and the vision tower's 2-D axial layout alike.
// inverse ≠ 0 applies Rᵀ (the backward: sin negated).
//
// x, out [T, H, Dh] (T storage; out may be x). One thread per (t, h, i), i < Dh − R/2:
// i < R/2 rotates the pair (i, i+R/2), i ≥ R/2 copies dim i + R/2. n = T·H·(Dh − R/2); block
// 256, grid-stride.

#define GF_EACH_T(X) X(f32, float) X(bf16, bf16_t)

#define K_ROT(S, T) \
  GF_KERNEL void rotary_##S(T* out, const T* x, const float* cos, const float* sin, int Tn, int H, int Dh, int R, int inverse) { \
    int half = R / 2, per = Dh - half; \
    i64 n = (i64)Tn * H * per; \
    GF_GRID_STRIDE(k, n) { \
      i64 th = k / per; \
      int i = (int)(k - th * per); \
      i64 base = th * Dh; \
      if (i >= half) { \
        st(out + base + half + i, ld(x + base + half + i)); \
        continue; \
      } \
      i64 t = th / H; \
      float c = cos[t * half + i], s = sin[t * half + i]; \
      if (inverse) s = -s; \
      float a = ld(x + base + i), b = ld(x + base + half + i); \
      float ac = a * c, bs = b * s, bc = b * c, as = a * s; \
      st(out + base + i, ac - bs); \
      st(out + base + half + i, bc + as); \
    } \
  }
GF_EACH_T(K_ROT)
