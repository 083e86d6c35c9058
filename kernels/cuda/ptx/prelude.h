// prelude.h — the small header every glmflow .cu file is compiled with (clang-19 -include
// prelude.h -nocudainc -nocudalib): no CUDA toolkit headers and no libdevice exist on the build
// machines, so this file supplies the CUDA keywords, the barrier, warp shuffles, bf16 storage
// and the float math the kernels use.
//
// Math policy: every function below is built from IEEE operations that PTX rounds exactly
// (add/mul/div/sqrt .rn, fma.rn) and integer bit operations; the files are compiled with
// -ffp-contract=off, so a multiply-add fuses only where fmaf is written. The device results are
// therefore a pure function of the formula, and math_test.go re-implements each one in Go
// operation for operation and checks it against float64 references over millions of inputs.
// No PTX .approx instruction is used (their error is hardware-defined and cannot be
// reproduced off the GPU); measured costs are noted in doc.go.
//
// Defines: __global__ __device__ __shared__ __forceinline__ __restrict__-friendly types,
// __syncthreads, gf_shfl_xor_{f32,i32,f64}, block reductions (gf_block_{sum,max}_f32,
// gf_block_sum_f64, gf_block_sum_i32), bf16 storage (bf16_t, gf_bf16_to_f32, gf_f32_to_bf16, ld/st overloads),
// gf_exp, gf_sigmoid, gf_log, gf_normal (erf/Φ/density for exact GELU), gf_rsqrt_rn.
#pragma once

#define __global__ __attribute__((global))
#define __device__ __attribute__((device))
#define __shared__ __attribute__((shared))
#define __forceinline__ __attribute__((always_inline)) inline
#define GF_INLINE static __device__ __forceinline__
#define GF_KERNEL extern "C" __global__

#include <__clang_cuda_builtin_vars.h>

#define __syncthreads() __nvvm_bar_sync(0)

typedef unsigned short bf16_t;
typedef unsigned int u32;
typedef long long i64;
typedef unsigned long long u64;

// ---- bit casts ----
GF_INLINE u32 gf_f2u(float f) { return __builtin_bit_cast(u32, f); }
GF_INLINE float gf_u2f(u32 u) { return __builtin_bit_cast(float, u); }
GF_INLINE u64 gf_d2u(double d) { return __builtin_bit_cast(u64, d); }
GF_INLINE double gf_u2d(u64 u) { return __builtin_bit_cast(double, u); }

// ---- warp shuffles (full-warp mask; every lane of the warp must call) ----
GF_INLINE float gf_shfl_xor_f32(float v, int lane) { return __nvvm_shfl_sync_bfly_f32(0xffffffffu, v, lane, 31); }
GF_INLINE int gf_shfl_xor_i32(int v, int lane) { return __nvvm_shfl_sync_bfly_i32(0xffffffffu, v, lane, 31); }
GF_INLINE double gf_shfl_xor_f64(double v, int lane) {
  u64 u = gf_d2u(v);
  int lo = gf_shfl_xor_i32((int)(u & 0xffffffffu), lane);
  int hi = gf_shfl_xor_i32((int)(u >> 32), lane);
  return gf_u2d(((u64)(u32)hi << 32) | (u64)(u32)lo);
}
GF_INLINE u32 gf_ballot(bool p) { return __nvvm_vote_ballot_sync(0xffffffffu, p); }

// Warp tree reductions: a fixed butterfly, so the result is the same on every lane and does
// not depend on timing.
GF_INLINE float gf_warp_sum_f32(float v) {
  for (int o = 16; o > 0; o >>= 1) v += gf_shfl_xor_f32(v, o);
  return v;
}
GF_INLINE double gf_warp_sum_f64(double v) {
  for (int o = 16; o > 0; o >>= 1) v += gf_shfl_xor_f64(v, o);
  return v;
}
GF_INLINE float gf_fmaxnan(float a, float b) { return (a != a || a > b) ? a : b; } // NaN wins
GF_INLINE float gf_warp_max_f32(float v) {
  for (int o = 16; o > 0; o >>= 1) v = gf_fmaxnan(v, gf_shfl_xor_f32(v, o));
  return v;
}

// Block reductions for blockDim.x a multiple of 32 (≤ 1024); every thread gets the result.
// scratch is a __shared__ array of ≥ 32 elements; the call ends with a barrier so scratch may
// be reused right after.
GF_INLINE float gf_block_sum_f32(float v, float* scratch) {
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = gf_warp_sum_f32(v);
  if (lane == 0) scratch[w] = v;
  __syncthreads();
  float s = lane < nw ? scratch[lane] : 0.0f;
  s = gf_warp_sum_f32(s);
  __syncthreads();
  return s;
}
GF_INLINE double gf_block_sum_f64(double v, double* scratch) {
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = gf_warp_sum_f64(v);
  if (lane == 0) scratch[w] = v;
  __syncthreads();
  double s = lane < nw ? scratch[lane] : 0.0;
  s = gf_warp_sum_f64(s);
  __syncthreads();
  return s;
}
GF_INLINE float gf_block_max_f32(float v, float* scratch) {
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = gf_warp_max_f32(v);
  if (lane == 0) scratch[w] = v;
  __syncthreads();
  float s = lane < nw ? scratch[lane] : -__builtin_inff();
  s = gf_warp_max_f32(s);
  __syncthreads();
  return s;
}

GF_INLINE int gf_block_sum_i32(int v, int* scratch) {
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
  for (int o = 16; o > 0; o >>= 1) v += gf_shfl_xor_i32(v, o);
  if (lane == 0) scratch[w] = v;
  __syncthreads();
  int s = lane < nw ? scratch[lane] : 0;
  for (int o = 16; o > 0; o >>= 1) s += gf_shfl_xor_i32(s, o);
  __syncthreads();
  return s;
}

// ---- bf16 storage ----
// bf16 → f32 is exact (the high half of the f32 bits).
GF_INLINE float gf_bf16_to_f32(bf16_t h) { return gf_u2f((u32)h << 16); }
// f32 → bf16 rounds to nearest even; a NaN keeps sign and payload and is made quiet (bit 6 of
// the bf16 mantissa), exactly tensors.BF16FromF32.
GF_INLINE bf16_t gf_f32_to_bf16(float f) {
  u32 b = gf_f2u(f);
  if ((b & 0x7fffffffu) > 0x7f800000u) return (bf16_t)((b >> 16) | 0x40u);
  b += 0x7fffu + ((b >> 16) & 1u);
  return (bf16_t)(b >> 16);
}
// f32 rounded to the nearest bf16 value, kept in f32 (bf16 tile operands).
GF_INLINE float gf_round_bf16(float f) { return gf_bf16_to_f32(gf_f32_to_bf16(f)); }

// Loads and stores by storage type: kernels are templates over float and bf16_t storage and
// compute in float.
GF_INLINE float ld(const float* p) { return *p; }
GF_INLINE float ld(const bf16_t* p) { return gf_bf16_to_f32(*p); }
GF_INLINE void st(float* p, float v) { *p = v; }
GF_INLINE void st(bf16_t* p, float v) { *p = gf_f32_to_bf16(v); }

// ---- float math (see the policy at the top; Go twins in math_test.go) ----
GF_INLINE float gf_fma(float a, float b, float c) { return __builtin_fmaf(a, b, c); }
GF_INLINE float gf_pow2i(int n) { return gf_u2f((u32)(n + 127) << 23); } // 2^n, −126 ≤ n ≤ 127

#define GF_EXP_HI 88.72283173f   // largest x with a finite e^x
#define GF_EXP_LO -87.33654022f  // smallest x with a normal e^x; below: 0
#define GF_LOG2E 1.44269504088896341f
#define GF_LN2_HI 0.693359375f
#define GF_LN2_LO -2.12194440e-4f
#define GF_ROUND_MAG 12582912.0f  // 1.5·2^23

// e^x (kernels/vec's algorithm with fused multiply-adds): n = round(x·log2e), r = x − n·ln2 in
// two steps, e^r by a degree-7 polynomial (r + r²·P(r)), times 2^n as two factors. Max error
// 2 ulp over [GF_EXP_LO, GF_EXP_HI]; x > GF_EXP_HI → +Inf, x < GF_EXP_LO → 0, NaN → NaN.
GF_INLINE float gf_exp(float x) {
  if (x > GF_EXP_HI) return __builtin_inff();
  if (x < GF_EXP_LO) return 0.0f;
  if (x != x) return x;
  float t = x * GF_LOG2E;
  float n = (t + GF_ROUND_MAG) - GF_ROUND_MAG;
  float r = gf_fma(-n, GF_LN2_HI, x);
  r = gf_fma(-n, GF_LN2_LO, r);
  float z = r * r;
  float p = 1.9875691500e-4f;
  p = gf_fma(p, r, 1.3981999507e-3f);
  p = gf_fma(p, r, 8.3334519073e-3f);
  p = gf_fma(p, r, 4.1665795894e-2f);
  p = gf_fma(p, r, 1.6666665459e-1f);
  p = gf_fma(p, r, 5.0000001201e-1f);
  p = gf_fma(p, z, r);
  p = p + 1.0f;
  int ni = (int)n;
  int n1 = ni >> 1;
  return p * gf_pow2i(n1) * gf_pow2i(ni - n1);
}

// σ(x) = 1/(1 + e^−x) with a correctly rounded division; ≤ 3 ulp.
GF_INLINE float gf_sigmoid(float x) { return 1.0f / (1.0f + gf_exp(-x)); }

// ln x (Cephes logf with fused multiply-adds): x = m·2^e, m in [√½, √2), ln m by a degree-9
// polynomial in f = m − 1, plus e·ln2 in two parts. Max error 2 ulp for normal and subnormal
// x > 0; ln 0 = −Inf, ln(x < 0) = NaN, ln(+Inf) = +Inf, NaN → NaN.
GF_INLINE float gf_log(float x) {
  if (x != x) return x;
  if (x < 0.0f) return __builtin_nanf("");
  if (x == 0.0f) return -__builtin_inff();
  if (x == __builtin_inff()) return x;
  u32 b = gf_f2u(x);
  int e = 0;
  if (b < 0x00800000u) { // subnormal: scale by 2^25
    b = gf_f2u(x * 33554432.0f);
    e = -25;
  }
  e += (int)(b >> 23) - 126;
  float m = gf_u2f((b & 0x007fffffu) | 0x3f000000u); // [0.5, 1)
  if (m < 0.70710678118654752440f) {
    m = m + m;
    e -= 1;
  }
  float f = m - 1.0f;
  float z = f * f;
  float p = 7.0376836292e-2f;
  p = gf_fma(p, f, -1.1514610310e-1f);
  p = gf_fma(p, f, 1.1676998740e-1f);
  p = gf_fma(p, f, -1.2420140846e-1f);
  p = gf_fma(p, f, 1.4249322787e-1f);
  p = gf_fma(p, f, -1.6668057665e-1f);
  p = gf_fma(p, f, 2.0000714765e-1f);
  p = gf_fma(p, f, -2.4999993993e-1f);
  p = gf_fma(p, f, 3.3333331174e-1f);
  p = p * f * z;
  float fe = (float)e;
  p = gf_fma(fe, -2.12194440e-4f, p);
  p = gf_fma(-0.5f, z, p);
  float r = f + p;
  return gf_fma(fe, 0.693359375f, r);
}

// 1/sqrt(v) correctly rounded to float (through double: sqrt.rn.f64, div.rn.f64), exactly
// the CPU norms' float32(1/math.Sqrt(float64(v))).
GF_INLINE float gf_rsqrt_rn(float v) { return (float)(1.0 / __builtin_sqrt((double)v)); }

// gf_normal sets erf(x/√2), Φ(x) and e^(−x²/2) for exact GELU: the float32 algorithm of
// kernels/elementwise (normalLanes) with hardware FMA. |x| ≥ 13.25: the tails are exact 0/1.
#define GF_GAUSS_AMAX 13.25f
GF_INLINE void gf_normal(float x, float* erf, float* cdf, float* dens) {
  float a = gf_u2f(gf_f2u(x) & 0x7fffffffu);
  bool big = !(a < GF_GAUSS_AMAX); // also NaN
  if (big) a = GF_GAUSS_AMAX;
  float s = a * a;
  float e = gf_fma(a, a, -s); // exact error of the square
  float t = s * (-0.5f * GF_LOG2E);
  float n = (t + GF_ROUND_MAG) - GF_ROUND_MAG;
  float u = gf_fma(n, 2.0f * GF_LN2_HI, s);
  u = gf_fma(n, 2.0f * GF_LN2_LO, u);
  u = u + e; // u = −2r, r = −a²/2 − n·ln2
  float p = 2.15850868698908e-05f;
  p = gf_fma(p, u, -0.00026152454665862024f);
  p = gf_fma(p, u, 0.0026042747776955366f);
  p = gf_fma(p, u, -0.020833149552345276f);
  p = gf_fma(p, u, 0.1249999850988388f);
  p = gf_fma(p, u, -0.5f);
  p = gf_fma(p, u, 1.0f);
  int ni = (int)n;
  int n1 = ni >> 1;
  float d = p * gf_pow2i(n1) * gf_pow2i(ni - n1);
  float q = 0.000188471444f / 2;
  q = gf_fma(q, s, -0.00233870954f / 2);
  q = gf_fma(q, s, 0.0199343953f / 2);
  q = gf_fma(q, s, -0.132979169f / 2);
  q = gf_fma(q, s, 0.797884524f / 2);
  q = q * x; // erf(x/√2)/2 for |x| < 1
  float pn = 0.0477078296f / 2;
  pn = gf_fma(pn, a, 0.283537775f / 2);
  pn = gf_fma(pn, a, 0.793832183f / 2);
  pn = gf_fma(pn, a, 0.999626696f / 2);
  float qd = 0.0597947985f;
  qd = gf_fma(qd, a, 0.355274886f);
  qd = gf_fma(qd, a, 1.05640078f);
  qd = gf_fma(qd, a, 1.58984625f);
  qd = gf_fma(qd, a, 1.0f);
  float h = d * (pn / qd); // erfc(a/√2)/2 for a ≥ 1
  if (big) {
    h = 0.0f;
    d = 0.0f;
  }
  *dens = d;
  if (a < 1.0f) {
    *erf = 2.0f * q;
    *cdf = q + 0.5f;
  } else if (x > 0.0f) {
    *erf = 1.0f - 2.0f * h;
    *cdf = 1.0f - h;
  } else { // x ≤ −1, or NaN (a = 13.25: erf −1, Φ 0)
    *erf = -(1.0f - 2.0f * h);
    *cdf = h;
  }
}
#define GF_INV_SQRT_2PI 0.3989422804014327f

// ---- integer helpers ----
GF_INLINE int gf_min(int a, int b) { return a < b ? a : b; }
GF_INLINE int gf_max(int a, int b) { return a > b ? a : b; }
GF_INLINE i64 gf_min64(i64 a, i64 b) { return a < b ? a : b; }

// ---- indexing ----
// Grid-stride loop over [0, n) with 64-bit indices.
#define GF_GRID_STRIDE(i, n) \
  for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)gridDim.x * blockDim.x)
