"""One GLM-4.5V MoE decoder layer in PyTorch eager, bf16, forward + backward, timed the way
`glmflow gpu check` times its own (median of 3 after a warm-up, CUDA events), for a ratio.

Shapes from testdata/glm45v/config.json's text config: hidden 4096, 96 query / 8 kv heads of
128, attention biases on q/k/v, partial rotary (first 64 dims, half-split pairs), RMSNorm eps
1e-5, 128 routed experts top-8 of width 1408 with a sigmoid router (fp32 logits, selection
bias, normalised top-k weights, scaling 1.0), one shared expert. The experts run as the usual
eager loop (index_select, three Linear, index_add_). Prints a Markdown section.
"""
import argparse
import json
import math
import os
import statistics

import torch
import torch.nn.functional as F

D, H, K, DH, E, TOPK, FW, SHARED, EPS = 4096, 96, 8, 128, 128, 8, 1408, 1, 1e-5
ROT = DH // 2


def rms(x, w):
    xf = x.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + EPS)).to(x.dtype) * w


def rotary(x, cos, sin):
    r, rest = x[..., :ROT], x[..., ROT:]
    a, b = r[..., : ROT // 2], r[..., ROT // 2:]
    return torch.cat([a * cos - b * sin, b * cos + a * sin, rest], dim=-1)


class Layer(torch.nn.Module):
    def __init__(self, dev, dt):
        super().__init__()
        p = lambda *s: torch.nn.Parameter(torch.randn(*s, device=dev, dtype=dt) * 0.02)
        z = lambda *s: torch.nn.Parameter(torch.zeros(*s, device=dev, dtype=dt))
        o = lambda *s: torch.nn.Parameter(torch.ones(*s, device=dev, dtype=dt))
        self.ln1, self.ln2 = o(D), o(D)
        self.wq, self.bq = p(H * DH, D), z(H * DH)
        self.wk, self.bk = p(K * DH, D), z(K * DH)
        self.wv, self.bv = p(K * DH, D), z(K * DH)
        self.wo = p(D, H * DH)
        self.router = torch.nn.Parameter(torch.randn(E, D, device=dev) * 0.02)  # fp32, as HF
        self.bias = torch.zeros(E, device=dev)
        self.gate, self.up, self.down = p(E, FW, D), p(E, FW, D), p(E, D, FW)
        self.sg, self.su, self.sd = p(SHARED * FW, D), p(SHARED * FW, D), p(D, SHARED * FW)

    def forward(self, x, cos, sin):
        T = x.shape[0]
        h = rms(x, self.ln1)
        q = F.linear(h, self.wq, self.bq).view(T, H, DH)
        k = F.linear(h, self.wk, self.bk).view(T, K, DH)
        v = F.linear(h, self.wv, self.bv).view(T, K, DH)
        q, k = rotary(q, cos, sin), rotary(k, cos, sin)
        k = k.repeat_interleave(H // K, dim=1)
        v = v.repeat_interleave(H // K, dim=1)
        a = F.scaled_dot_product_attention(q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1), is_causal=True)
        x = x + F.linear(a.transpose(0, 1).reshape(T, H * DH), self.wo)
        h = rms(x, self.ln2)
        scores = torch.sigmoid(F.linear(h.float(), self.router))
        _, idx = torch.topk(scores + self.bias, TOPK, dim=-1)
        w = scores.gather(1, idx)
        w = (w / (w.sum(-1, keepdim=True) + 1e-20)).to(h.dtype)
        out = torch.zeros_like(h)
        flat = idx.reshape(-1)
        order = torch.argsort(flat, stable=True)
        counts = torch.bincount(flat, minlength=E).tolist()
        tok = order // TOPK
        start = 0
        for e, n in enumerate(counts):
            if n == 0:
                continue
            sel = order[start:start + n]
            t = tok[start:start + n]
            start += n
            xe = h.index_select(0, t)
            ye = F.linear(F.silu(F.linear(xe, self.gate[e])) * F.linear(xe, self.up[e]), self.down[e])
            out = out.index_add(0, t, ye * w.reshape(-1)[sel].unsqueeze(1))
        shared = F.linear(F.silu(F.linear(h, self.sg)) * F.linear(h, self.su), self.sd)
        return x + out + shared


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=4096)
    ap.add_argument("--json", default="")
    ap.add_argument("--glmflow-json", default="")
    a = ap.parse_args()
    dev, dt, T = "cuda", torch.bfloat16, a.tokens
    torch.manual_seed(0)
    layer = Layer(dev, dt)
    x = (torch.randn(T, D, device=dev, dtype=dt) * 0.5).requires_grad_()
    dout = torch.randn(T, D, device=dev, dtype=dt) * 0.5
    inv = 1.0 / (10000 ** (torch.arange(0, ROT, 2, device=dev).float() / ROT))
    ang = torch.arange(T, device=dev).float()[:, None] * inv[None, :]
    cos, sin = ang.cos().to(dt)[:, None, :], ang.sin().to(dt)[:, None, :]

    def step():
        e0, e1, e2 = (torch.cuda.Event(enable_timing=True) for _ in range(3))
        e0.record()
        y = layer(x, cos, sin)
        e1.record()
        y.backward(dout)
        e2.record()
        torch.cuda.synchronize()
        return e0.elapsed_time(e1), e1.elapsed_time(e2)

    step()
    runs = [step() for _ in range(3)]
    fwd = statistics.median(r[0] for r in runs)
    bwd = statistics.median(r[1] for r in runs)
    res = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "tokens": T,
           "forward_ms": fwd, "backward_ms": bwd, "total_ms": fwd + bwd}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=2)
    print(f"PyTorch {torch.__version__} on {res['device']}: forward {fwd:.1f} ms, backward {bwd:.1f} ms, "
          f"total **{fwd + bwd:.1f} ms** (median of 3; SDPA attention, eager expert loop, bf16 weights)\n")
    if a.glmflow_json and os.path.exists(a.glmflow_json):
        with open(a.glmflow_json) as f:
            g = json.load(f)
        r = g["total_ms"] / (fwd + bwd)
        print(f"glmflow total {g['total_ms']:.1f} ms → **glmflow / PyTorch = {r:.2f}×** "
              f"(forward {g['forward_ms'] / fwd:.2f}×, backward {g['backward_ms'] / bwd:.2f}×)\n")
    else:
        print("no glmflow layer timing to compare (layer.json missing)\n")


if __name__ == "__main__":
    main()
