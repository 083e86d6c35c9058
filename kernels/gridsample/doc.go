// Package gridsample implements bicubic sampling of a channels-last table at arbitrary
// normalised points, forward and backward, with exactly the semantics of PyTorch's
// F.grid_sample(mode="bicubic", padding_mode="border", align_corners=False). GLM-4.5V uses it to
// resample its learned vision position embedding (a 24×24 grid of 1536-wide vectors,
// /work/shared/docs/glm45v.md §2.2) to each image's patch grid.
//
// Shape vocabulary: H0, W0 table grid (rows = height, cols = width), C channels, N points.
//
// Semantics, per point (x, y) with x along the width and y along the height, both in [−1, 1]
// for points inside the table (values outside are allowed):
//   - unnormalise (align_corners=False): ix = ((x+1)·W0 − 1)/2, iy = ((y+1)·H0 − 1)/2, computed
//     in float32 as PyTorch's CPU kernel does: fma(x+1, W0/2, −0.5). No clipping of ix, iy.
//   - x0 = floor(ix), tx = ix − x0 (same for y); taps at columns x0−1..x0+2, rows y0−1..y0+2.
//   - border padding PER TAP: every tap index is clamped to [0, W0−1] (rows [0, H0−1]) on its
//     own. This is what PyTorch does for bicubic and differs from clamping the coordinate.
//   - cubic convolution weights, A = −0.75, interpolate along x for each of the 4 rows, then
//     along y.
//   - fp32 rounding follows PyTorch's vectorised CPU kernel operation by operation, including
//     the multiply-adds GCC fused in Debian's torch 1.13 AVX2 build (found by matching its
//     outputs). On patch grids (the GLM-4.5V use) forward and d(table) are bit-identical to that
//     build; elsewhere (points far outside the table, 1-pixel tables) a few elements differ by
//     1–2 ulp. Other PyTorch builds (AVX-512, CUDA) round differently in the last bits.
//   - Coord gives HF's normalised coordinate of patch index i in a grid of n patches.
//
// Backward accumulates d(table) (a weight gradient: dtable += …) in a fixed order (points in
// order for every channel; work is split over channels), and optionally overwrites d(grid)
// (PyTorch's grid gradient: the derivative through ix = (x+1)·W0/2 − 0.5, with no clipping
// factor because bicubic clamps taps, not coordinates).
//
// Speed: with AVX-512 and C a multiple of 16, one point's 16 taps and the d(table) adds run in
// assembly (sample_amd64.s), 16 channels per step with the Go loops' operations (a fused
// multiply-add exactly where the Go code calls fma32; TestAssemblyMatchesGo checks the bits):
// BenchmarkForward/Backward report the ratio to the Go loop in the same run (x_go).
//
// Non-goals: other modes (bilinear, nearest), other paddings, align_corners=True, batched
// tables (callers loop), bf16 storage, and the merge-block ordering of patch coordinates
// (stages build the point list).
package gridsample
