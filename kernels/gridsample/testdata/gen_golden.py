#!/usr/bin/python3
"""Writes golden.bin: PyTorch bicubic grid_sample outputs and gradients for gridsample tests.

Run from this directory with Debian's python3 (python3-torch):  /usr/bin/python3 gen_golden.py

F.grid_sample(mode="bicubic", padding_mode="border", align_corners=False) on a channels-last
table [H0, W0, C] (viewed as [1, C, H0, W0], like HF Glm4vVisionEmbeddings) at N points given
as a [1, N, 1, 2] grid of (x, y); d(table) and d(grid) from autograd with a random dout.

Format (all little-endian): b"GSG1", int32 cases, then per case int32 H0, W0, C, N followed by
float32 arrays table [H0*W0*C], grid [N*2], dout [N*C], out [N*C], dtable [H0*W0*C],
dgrid [N*2]. The torch version is written after the cases as int32 length + UTF-8 bytes.
"""
import struct

import torch
import torch.nn.functional as F


def coord(i, n):
    # HF: ((i + 0.5) / n) * 2 - 1 in float32
    i = torch.tensor(i, dtype=torch.float32)
    return (((i + 0.5) / n) * 2 - 1).item()


def patch_grid(h, w):
    pts = []
    for r in range(h):
        for c in range(w):
            pts.append((coord(c, w), coord(r, h)))
    return torch.tensor(pts, dtype=torch.float32)


def case(gen, h0, w0, c, grid):
    table = torch.randn(h0, w0, c, generator=gen, dtype=torch.float32)
    n = grid.shape[0]
    dout = torch.randn(n, c, generator=gen, dtype=torch.float32)
    inp = table.permute(2, 0, 1).unsqueeze(0).clone().requires_grad_(True)
    g = grid.reshape(1, n, 1, 2).clone().requires_grad_(True)
    out = F.grid_sample(inp, g, mode="bicubic", padding_mode="border", align_corners=False)
    out_nc = out[0, :, :, 0].t().contiguous()  # [N, C]
    out_nc.backward(dout)
    dtable = inp.grad[0].permute(1, 2, 0).contiguous()
    dgrid = g.grad.reshape(n, 2)
    return h0, w0, c, n, [table, grid, dout, out_nc.detach(), dtable, dgrid]


def main():
    gen = torch.Generator().manual_seed(20250704)
    cases = []
    # GLM-4.5V: 24x24 table resampled to a 10x14 patch grid and to 24x24 (identity).
    cases.append(case(gen, 24, 24, 3, patch_grid(10, 14)))
    cases.append(case(gen, 24, 24, 2, patch_grid(24, 24)))
    # Upsampling a 36x36 table to 40x38 (taps clamp at the borders).
    cases.append(case(gen, 36, 36, 1, patch_grid(40, 38)))
    # Random points well outside [-1, 1] on a small non-square table, plus exact edges.
    pts = torch.rand(300, 2, generator=gen) * 3.0 - 1.5
    edges = torch.tensor([[-1, -1], [1, 1], [-1, 1], [1, -1], [0, 0], [0.2, -0.6]], dtype=torch.float32)
    cases.append(case(gen, 5, 7, 4, torch.cat([pts, edges])))
    # Degenerate tables: one row, one column, one cell.
    cases.append(case(gen, 1, 6, 3, torch.rand(40, 2, generator=gen) * 2.4 - 1.2))
    cases.append(case(gen, 6, 1, 3, torch.rand(40, 2, generator=gen) * 2.4 - 1.2))
    cases.append(case(gen, 1, 1, 5, torch.rand(10, 2, generator=gen) * 2.4 - 1.2))

    with open("golden.bin", "wb") as f:
        f.write(b"GSG1")
        f.write(struct.pack("<i", len(cases)))
        for h0, w0, c, n, arrays in cases:
            f.write(struct.pack("<4i", h0, w0, c, n))
            for a in arrays:
                f.write(a.detach().contiguous().numpy().astype("<f4").tobytes())
        v = torch.__version__.encode()
        f.write(struct.pack("<i", len(v)))
        f.write(v)


if __name__ == "__main__":
    main()
