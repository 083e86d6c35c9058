// Package vec holds the SIMD primitives the other kernels build on, over float32 slices:
// Exp, Dot, Axpy, Scale, Sum, Max, SumSq, plus a few fused elementwise helpers (Sigmoid).
//
// Implementation: Go assembly for AVX-512 (ZMM, 4 independent accumulators in reductions) and
// AVX2+FMA, chosen at start-up with golang.org/x/sys/cpu; a pure-Go fallback everywhere else
// (other GOARCHes, the purego build tag, or CPUs without AVX2+FMA).
//
// Numerics:
//   - Exp: x = n·ln2 + r (Cody–Waite split ln2), |r| ≤ ln2/2, a degree-7 polynomial for e^r
//     (Cephes expf coefficients), then scaling by 2^n through the exponent bits. Max error
//     ≤ 2 ulp against math.Exp for every x with a normal result. x > 88.72283 → +Inf;
//     x < −87.33654 (results below the smallest normal float32) → exactly +0, so −Inf and
//     large negative masking values give exact zeros in softmax; NaN → NaN.
//   - Reductions (Dot, Sum, SumSq) accumulate in float32 in a fixed order for a given code path.
//     The AVX-512, AVX2 and pure-Go paths use different orders (and the assembly paths fuse
//     multiply-adds), so switching path may change the last bits; the same path on the same
//     input always gives the same bits, whatever the caller's threading.
//   - Max ignores NaNs (returns the largest non-NaN value; −Inf for an empty or all-NaN slice).
//   - Elementwise ops (Exp, Axpy, Scale, Sigmoid) do not depend on the order at all, but the
//     assembly paths fuse multiply-adds, so they may differ from the pure-Go path in the last bit.
//
// The fused streaming kernels of kernels/elementwise, kernels/norm and kernels/optim are generated
// by internal/asmgen (go generate in those packages); it copies EXP512/EXP2 and their constants
// from vec_amd64.s, so regenerate them after changing the exp algorithm here.
//
// Non-goals: threading (callers split work), float64, bf16 storage, length checks beyond
// "the slices are at least as long as the first argument" (callers validate shapes; a shorter
// second argument panics like any out-of-range slice access).
package vec
