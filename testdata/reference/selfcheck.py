"""Self-checks of the GLM-4.5V reference and its golden files.

    /usr/bin/python3 testdata/reference/selfcheck.py            # all checks
    /usr/bin/python3 testdata/reference/selfcheck.py --fast     # skip the determinism re-run

Exit status 0 only if every check passes. See README.md for what each check shows.
"""
import hashlib
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # keep testdata/ free of __pycache__
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_golden as G  # noqa: E402
from glm4v_ref import (Glm4vMoeRef, bicubic_pos_embed_manual, get_rope_index, hf_inv_freq,  # noqa: E402
                       interp_pos_embed, parse_config, patchify, rms_norm, text_rope, vision_forward,
                       vision_pos_ids)
from st_io import load_file, save_file, read_header  # noqa: E402

torch.set_num_threads(1)
FAILS = []


def check(ok, msg):
    print(("  PASS " if ok else "  FAIL ") + msg)
    if not ok:
        FAILS.append(msg)


def case_data(case):
    cfg, weights, inputs, _, _ = G.pick_inputs(case)
    return cfg, weights, inputs


def loss_of(model, inputs, mut=frozenset()):
    out = model.forward(torch.from_numpy(inputs["input_ids"]), torch.from_numpy(inputs["attention_mask"]),
                        torch.from_numpy(inputs["pixel_values"]), torch.from_numpy(inputs["image_grid_thw"]),
                        torch.from_numpy(inputs["labels"]), mut=mut)
    return out


# ----------------------------------------------------------------------------------------
def check_fd(case, cfg, weights, inputs):
    print("[a] %s: autograd vs central finite differences (float64, eps=1e-6)" % case)
    model = Glm4vMoeRef(cfg, weights, torch.float64)
    out = loss_of(model, inputs)
    out["loss"].backward()
    rng = np.random.Generator(np.random.PCG64(7))
    kinds = {}
    for n in model.params:
        kinds.setdefault(re.sub(r"\.\d+\.", ".#.", n), []).append(n)
    worst_rel, worst_abs, n_el, bad = 0.0, 0.0, 0, []
    eps = 1e-6
    for kind, names in sorted(kinds.items()):
        for _ in range(2):
            n = names[int(rng.integers(len(names)))]
            prm = model.params[n]
            g = prm.grad if prm.grad is not None else torch.zeros_like(prm)
            flat_g = g.reshape(-1)
            # one element with the largest |grad| (so a zero-grad pick cannot hide bugs) + one random
            picks = [int(flat_g.abs().argmax()), int(rng.integers(flat_g.numel()))]
            for j in picks:
                with torch.no_grad():
                    base = prm.view(-1)[j].item()
                    prm.view(-1)[j] = base + eps
                    lp = loss_of(model, inputs)["loss"].item()
                    prm.view(-1)[j] = base - eps
                    lm = loss_of(model, inputs)["loss"].item()
                    prm.view(-1)[j] = base
                fd = (lp - lm) / (2 * eps)
                ag = flat_g[j].item()
                n_el += 1
                err = abs(fd - ag)
                worst_abs = max(worst_abs, err)
                if abs(ag) > 1e-3:
                    worst_rel = max(worst_rel, err / abs(ag))
                if err > 2e-9 + 1e-6 * abs(ag):      # f64 round-off of the difference quotient ~5e-10
                    bad.append((n, j, ag, fd))
    print("    %d kinds, %d elements: max rel err %.2e (|g|>1e-3), max abs err %.2e; tolerance 2e-9+1e-6|g|"
          % (len(kinds), n_el, worst_rel, worst_abs))
    for b_ in bad[:5]:
        print("    mismatch", b_)
    check(not bad, "%s finite differences agree with autograd" % case)


def check_f32_f64(case, cfg, weights, inputs):
    print("[b] %s: float32 run vs float64 run" % case)
    _, o64, _, g64 = G.run(cfg, weights, inputs, torch.float64)
    _, o32, _, g32 = G.run(cfg, weights, inputs, torch.float32)
    am = torch.from_numpy(inputs["attention_mask"]).bool()
    l64, l32 = o64["logits"].detach(), o32["logits"].detach().double()
    loss_rel = abs(o32["loss"].item() - o64["loss"].item()) / abs(o64["loss"].item())
    v64, v32 = l64[am], l32[am]
    lg_norm = ((v32 - v64).abs().max() / v64.abs().max()).item()
    lg_elem = ((v32 - v64).abs() / v64.abs().clamp_min(1e-3)).max().item()
    gr = 0.0
    for n in g64:
        d = (g32[n].double() - g64[n]).abs().max().item()
        s = g64[n].abs().max().item()
        if s > 0:
            gr = max(gr, d / s)
    print("    loss rel %.2e | logits (valid pos) max|d|/max|l| %.2e, elementwise rel %.2e | grads per-tensor max|d|/max|g| %.2e"
          % (loss_rel, lg_norm, lg_elem, gr))
    check(loss_rel < 1e-5 and lg_norm < 1e-5, "%s float32 agrees with float64 to 1e-5" % case)
    check(gr < 1e-4, "%s float32 grads agree with float64 to 1e-4" % case)


# ----------------------------------------------------------------------------------------
def vision_image_space(p, vc, frames_list):
    """Independent vision tower working on 2-D feature maps (real Conv3d over the pixel volume,
    hand-written bicubic, raster order, real stride-2 Conv2d); no merge-block bookkeeping."""
    D, nh = vc["hidden_size"], vc["num_heads"]
    hd = D // nh
    eps = vc["rms_norm_eps"]
    V = "model.visual."
    outs = []
    for frames in frames_list:                       # frames [2, 3, H', W']
        vol = frames.permute(1, 0, 2, 3).unsqueeze(0)   # [1, C, T, H', W']
        x = F.conv3d(vol, p[V + "patch_embed.proj.weight"], p[V + "patch_embed.proj.bias"],
                     stride=(2, 14, 14))[0, :, 0]        # [D, gh, gw]
        gh, gw = x.shape[1:]
        x = x.permute(1, 2, 0).reshape(gh * gw, D)        # raster order
        x = rms_norm(x, p[V + "post_conv_layernorm.weight"], eps)
        hh = torch.arange(gh).repeat_interleave(gw)
        ww = torch.arange(gw).repeat(gh)
        x = x + bicubic_pos_embed_manual(p[V + "embeddings.position_embedding.weight"], hh, ww,
                                         [gh] * (gh * gw), [gw] * (gh * gw))
        nf = hd // 4
        # HF keeps inv_freq as a float32 buffer; round the same way (else ~1e-9 differences)
        inv = torch.tensor([10000.0 ** (-2.0 * j / (hd // 2)) for j in range(nf)], dtype=torch.float32).double()
        ang = torch.cat([hh[:, None] * inv, ww[:, None] * inv], -1)
        ang = torch.cat([ang, ang], -1)
        for i in range(vc["depth"]):
            b = V + "blocks.%d." % i
            h = rms_norm(x, p[b + "norm1.weight"], eps)
            W = p[b + "attn.qkv.weight"]
            heads = []
            for hi in range(nh):
                q = h @ W[hi * hd:(hi + 1) * hd].T
                k = h @ W[D + hi * hd:D + (hi + 1) * hd].T
                v = h @ W[2 * D + hi * hd:2 * D + (hi + 1) * hd].T

                def rot(t):
                    half = hd // 2
                    t1, t2 = t[:, :half], t[:, half:]
                    c, s = ang[:, :half].cos(), ang[:, :half].sin()
                    return torch.cat([t1 * c - t2 * s, t2 * c + t1 * s], -1)
                q, k = rot(q), rot(k)
                a = torch.softmax(q @ k.T / hd ** 0.5, -1)
                heads.append(a @ v)
            x = x + torch.cat(heads, -1) @ p[b + "attn.proj.weight"].T
            h = rms_norm(x, p[b + "norm2.weight"], eps)
            x = x + (F.silu(h @ p[b + "mlp.gate_proj.weight"].T) * (h @ p[b + "mlp.up_proj.weight"].T)) @ \
                p[b + "mlp.down_proj.weight"].T
        x = rms_norm(x, p[V + "post_layernorm.weight"], eps)
        fm = x.reshape(gh, gw, D).permute(2, 0, 1).unsqueeze(0)
        y = F.conv2d(fm, p[V + "downsample.weight"], p[V + "downsample.bias"], stride=2)[0]  # [O, gh/2, gw/2]
        y = y.permute(1, 2, 0).reshape(-1, y.shape[0])                                  # raster (r, c)
        y = y @ p[V + "merger.proj.weight"].T
        y = F.gelu(F.layer_norm(y, (y.shape[-1],), p[V + "merger.post_projection_norm.weight"],
                                p[V + "merger.post_projection_norm.bias"], 1e-5))
        y = (F.silu(y @ p[V + "merger.gate_proj.weight"].T) * (y @ p[V + "merger.up_proj.weight"].T)) @ \
            p[V + "merger.down_proj.weight"].T
        outs.append(y)
    return torch.cat(outs)


def check_merge_order(cfg, weights):
    print("[c] merge-block patch ordering (§5.3, pitfall 8)")
    # 1) coordinate-encoding image: channel 0 = patch row h, channel 1 = patch col w
    gh, gw = 4, 6
    img = torch.zeros(3, gh * 14, gw * 14, dtype=torch.float64)
    for h in range(gh):
        for w in range(gw):
            img[0, h * 14:(h + 1) * 14, w * 14:(w + 1) * 14] = h
            img[1, h * 14:(h + 1) * 14, w * 14:(w + 1) * 14] = w
    pv, thw = patchify(torch.stack([img, img]))
    dec_h, dec_w = pv[:, 0].long(), pv[:, 1 * 2 * 196].long()      # column ((c*2+t)*14+ph)*14+pw
    hp, wp = vision_pos_ids(torch.tensor([thw]), 2)
    check(torch.equal(dec_h, hp) and torch.equal(dec_w, wp),
          "patchify row order == vision rotary/pos-embed coordinates (merge-block order)")
    rows = [(int(a), int(b)) for a, b in zip(dec_h, dec_w)]
    print("    row -> (h,w): " + " ".join("%d:(%d,%d)" % (i, a, b) for i, (a, b) in enumerate(rows[:12])) + " ...")
    ok = True
    for j in range((gh // 2) * (gw // 2)):
        r, c = divmod(j, gw // 2)
        ok &= rows[4 * j:4 * j + 4] == [(2 * r, 2 * c), (2 * r, 2 * c + 1), (2 * r + 1, 2 * c), (2 * r + 1, 2 * c + 1)]
    check(ok, "rows 4j..4j+3 = block (r,c) of merged token j=r*(W/2)+c in order r0c0,r0c1,r1c0,r1c1 "
              "(= get_rope_index raster order)")
    # 2) independent image-space vision tower on 3 images with DIFFERENT temporal frames
    tc, vc = parse_config(cfg)
    model = Glm4vMoeRef(cfg, weights, torch.float64)
    p = {k: v.detach() for k, v in model.all_tensors().items()}
    gen = torch.Generator().manual_seed(3)
    frames_list, pvs, grids = [], [], []
    for (h, w) in [(4, 6), (2, 2), (4, 2), (6, 4)]:
        fr = torch.randn(2, 3, h * 14, w * 14, generator=gen, dtype=torch.float64)
        frames_list.append(fr)
        pv, g = patchify(fr)
        pvs.append(pv)
        grids.append(g)
    ref = vision_forward(p, vc, torch.cat(pvs), torch.tensor(grids), torch.float64)
    alt = vision_image_space(p, vc, frames_list)
    d = (ref - alt).abs().max().item() / alt.abs().max().item()
    print("    batched row-based tower vs per-image 2-D feature-map tower: max rel diff %.2e" % d)
    check(d < 1e-12, "vision tower (pos-embed, 2-D rope, cu_seqlens, downsample, merger) is order-consistent")
    bad = vision_forward(p, vc, torch.cat(pvs), torch.tensor(grids), torch.float64, mut={"vision_raster_order"})
    check((bad - alt).abs().max().item() / alt.abs().max().item() > 1e-2,
          "using raster instead of merge-block coordinates is detected (diff %.2e)"
          % ((bad - alt).abs().max().item() / alt.abs().max().item()))


def check_rope_index(cfg, inputs):
    print("[d] get_rope_index on golden case1 (two images in row 0, right padding)")
    tc, vc = parse_config(cfg)
    ids = torch.from_numpy(inputs["input_ids"])
    am = torch.from_numpy(inputs["attention_mask"])
    pos, deltas = get_rope_index(ids, torch.from_numpy(inputs["image_grid_thw"]), am, tc, 2)
    for b in range(ids.shape[0]):
        print("    row %d ids: %s" % (b, ids[b].tolist()))
        for s, nm in enumerate("thw"):
            print("      %s: %s" % (nm, pos[s, b].tolist()))
    # hand-worked (glm45v.md §4.3 example + continuation)
    t0 = [0, 1, 2, 3, 4, 5, 5, 5, 5, 5, 5, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23]
    h0 = [0, 1, 2, 3, 4, 5, 5, 5, 6, 6, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23]
    w0 = [0, 1, 2, 3, 4, 5, 6, 7, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23]
    # row 1: image grid (1,4,2) -> 2x1 merged tokens, then jump by max(4,2)/2 = 2; pads get 1
    t1 = [0, 1, 2, 3, 4, 5, 5, 7, 8, 9, 10, 11, 12, 13, 14] + [1] * 12
    h1 = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14] + [1] * 12
    w1 = [0, 1, 2, 3, 4, 5, 5, 7, 8, 9, 10, 11, 12, 13, 14] + [1] * 12
    exp = torch.tensor([[t0, t1], [h0, h1], [w0, w1]])
    check(torch.equal(pos, exp), "position ids equal the hand-worked example")
    check(deltas.flatten().tolist() == [24 - 27, 15 - 15], "rope_deltas = max+1-#valid: %s" % deltas.flatten().tolist())
    # left-padded version of the same rows gives the same positions at the valid slots
    T = ids.shape[1]
    lids, lam = ids.clone(), am.clone()
    for b in range(ids.shape[0]):
        n = int(am[b].sum())
        lids[b] = torch.cat([ids[b, n:], ids[b, :n]])
        lam[b] = torch.cat([am[b, n:], am[b, :n]])
    lpos, _ = get_rope_index(lids, torch.from_numpy(inputs["image_grid_thw"]), lam, tc, 2)
    ok = all(torch.equal(lpos[:, b][:, lam[b] == 1], pos[:, b][:, am[b] == 1]) for b in range(2))
    check(ok, "left padding moves positions with the tokens (valid slots identical)")


def check_padding_sides(case, cfg, weights, inputs):
    print("[g] %s: same batch padded left vs right" % case)
    am = inputs["attention_mask"]
    flip = {}
    for k in ("input_ids", "attention_mask", "labels"):
        a = inputs[k].copy()
        for b in range(a.shape[0]):
            n = int(am[b].sum())
            left = am[b, 0] == 0
            a[b] = np.concatenate([a[b, -n:], a[b, :-n]]) if left else np.concatenate([a[b, n:], a[b, :n]])
        flip[k] = a
    flip["pixel_values"], flip["image_grid_thw"] = inputs["pixel_values"], inputs["image_grid_thw"]
    _, o1, _, g1 = G.run(cfg, weights, inputs, torch.float64)
    _, o2, _, g2 = G.run(cfg, weights, flip, torch.float64)
    l1 = o1["logits"].detach()[torch.from_numpy(am).bool()]
    l2 = o2["logits"].detach()[torch.from_numpy(flip["attention_mask"]).bool()]
    dl = (l1 - l2).abs().max().item()
    dg = max((g1[n] - g2[n]).abs().max().item() for n in g1)
    print("    |d loss| %.1e, max|d logits| (valid) %.1e, max|d grad| %.1e"
          % (abs(o1["loss"].item() - o2["loss"].item()), dl, dg))
    check(dl < 1e-10 and dg < 1e-10, "%s left/right padding give identical loss, valid logits, grads" % case)


MUTATIONS = [
    ("rope_interleaved", "GLM-4.1V interleaved text rope instead of NeoX half-split"),
    ("mrope_1d", "temporal stream for all mrope slots (plain 1-D rope)"),
    ("vision_raster_order", "vision coordinates in raster instead of merge-block order"),
    ("downsample_transpose", "2x2 block read column-major in downsample"),
    ("pos_bilinear", "bilinear instead of bicubic pos-embed interpolation"),
    ("pos_align_corners", "align_corners=True in pos-embed interpolation"),
    ("no_vision_rope", "no 2-D vision rotary"),
    ("no_bias_selection", "expert selection without e_score_correction_bias"),
    ("bias_for_weights", "mixing weights from biased scores"),
    ("no_group_limit", "group-limited top-k ignored"),
    ("softmax_router", "softmax instead of sigmoid router scores"),
]


def check_mutations(case, cfg, weights, inputs):
    print("[f] %s: sensitivity of the golden data to typical bugs (float64)" % case)
    tc, _ = parse_config(cfg)
    _, base, _, gb = G.run(cfg, weights, inputs, torch.float64)
    am = torch.from_numpy(inputs["attention_mask"]).bool()
    lb = base["logits"].detach()[am]
    for mname, desc in MUTATIONS:
        if mname == "no_group_limit" and tc["n_group"] == 1:
            continue
        _, o, _, _ = G.run(cfg, weights, inputs, torch.float64, mut=frozenset({mname}), grads=False)
        d = ((o["logits"].detach()[am] - lb).abs().max() / lb.abs().max()).item()
        print("    %-22s logits max|d|/max|l| %.2e  |d loss|/loss %.2e  (%s)"
              % (mname, d, abs(o["loss"].item() - base["loss"].item()) / base["loss"].item(), desc))
        check(d > 1e-4, "%s: %s is visible (>1e-4)" % (case, mname))
    _, o, _, g = G.run(cfg, weights, inputs, torch.float64, mut=frozenset({"no_padding_idx"}))
    pad = tc["pad_token_id"]
    E = "model.language_model.embed_tokens.weight"
    print("    no_padding_idx: pad-row grad norm %.3e (HF: 0) vs %.3e"
          % (gb[E][pad].norm().item(), g[E][pad].norm().item()))
    check(gb[E][pad].abs().max().item() == 0 and g[E][pad].abs().max().item() > 1e-6,
          "%s: pad row gets zero grad; a missing padding_idx is visible" % case)
    _, o, _, _ = G.run(cfg, weights, inputs, torch.float64, grads=False, pad_pos=0)
    d = (o["logits"].detach()[am] - lb).abs().max().item()
    check(d == 0.0, "%s: pad-slot position id (1 in 4.5x, 0 in v5) does not affect valid logits" % case)


def check_components(cfg, weights):
    print("[h] component cross-checks")
    tc, vc = parse_config(cfg)
    # MoE: sparse per-expert dispatch == dense "all experts x scattered weight matrix" form
    from glm4v_ref import moe, route
    m = Glm4vMoeRef(cfg, weights, torch.float64)
    p = {k: v.detach() for k, v in m.all_tensors().items()}
    b = "model.language_model.layers.1.mlp."
    x = torch.randn(40, tc["hidden_size"], generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    y = moe(x, p, b, tc)
    sc = torch.sigmoid(x @ p[b + "gate.weight"].T)
    sel = sc + p[b + "gate.e_score_correction_bias"]
    E, G_, TG = tc["n_routed_experts"], tc["n_group"], tc["topk_group"]
    dense_w = torch.zeros(40, E, dtype=torch.float64)
    for t in range(40):
        groups = sorted(range(G_), key=lambda g: -float(sel[t, g * E // G_:(g + 1) * E // G_].topk(2)[0].sum()))[:TG]
        allowed = [e for e in range(E) if e // (E // G_) in groups]
        top = sorted(allowed, key=lambda e: -float(sel[t, e]))[:tc["num_experts_per_tok"]]
        tot = sum(float(sc[t, e]) for e in top)
        for e in top:
            dense_w[t, e] = sc[t, e] / tot * tc["routed_scaling_factor"]
    def mlp(pre, v):
        return (F.silu(v @ p[pre + "gate_proj.weight"].T) * (v @ p[pre + "up_proj.weight"].T)) @ p[pre + "down_proj.weight"].T
    yd = sum(dense_w[:, e:e + 1] * mlp(b + "experts.%d." % e, x) for e in range(E)) + mlp(b + "shared_experts.", x)
    check((y - yd).abs().max().item() < 1e-12, "MoE dispatch == dense loop formulation (groups %d/%d, scale %.2g)"
          % (G_, TG, tc["routed_scaling_factor"]))
    # MRoPE: split formulation == per-slot formulation of §3.5
    gen = torch.Generator().manual_seed(5)
    pos = torch.randint(0, 50, (3, 2, 9), generator=gen)
    cos, sin = text_rope(pos, tc, torch.float64)
    rot = int(tc["head_dim"] * tc["partial_rotary_factor"])
    inv = hf_inv_freq(rot, tc["rope_theta"]).double()
    stream = []
    for k, n in enumerate(tc["mrope_section"]):
        stream += [k % 3] * n
    ang = torch.stack([pos[stream[j]].double() * inv[j] for j in range(rot // 2)], -1)
    ang = torch.cat([ang, ang], -1)
    check((ang.cos() - cos).abs().max().item() < 1e-15 and (ang.sin() - sin).abs().max().item() < 1e-15,
          "MRoPE chunk-split == per-slot stream assignment (slot j -> t/h/w by mrope_section)")
    # bicubic grid_sample == hand-written §2.2 formula, on the sizes used by the golden cases
    for S, H, W in [(4, 4, 6), (4, 2, 2), (4, 4, 2), (5, 6, 2), (24, 32, 20)]:
        tab = torch.randn(S * S, 5, generator=gen, dtype=torch.float64)
        g = torch.tensor([[1, H, W]])
        hp, wp = vision_pos_ids(g, 2)
        a = interp_pos_embed(tab, hp, wp, g, [H * W], torch.float64)
        b = bicubic_pos_embed_manual(tab, hp, wp, [H] * (H * W), [W] * (H * W))
        check((a - b).abs().max().item() < 1e-13, "grid_sample bicubic == §2.2 closed form (table %dx%d, grid %dx%d)" % (S, S, H, W))


def check_files(case, cfg, weights, inputs):
    print("[i] %s: golden files" % case)
    d = os.path.join(HERE, "golden", case)
    m = Glm4vMoeRef.from_pretrained(d, torch.float64)
    inp = load_file(os.path.join(d, "inputs.safetensors"))
    outs = load_file(os.path.join(d, "outputs.safetensors"))
    o = loss_of(m, inp)
    o["loss"].backward()
    check(abs(o["loss"].item() - float(outs["loss"])) <= 1e-7 * abs(float(outs["loss"])),
          "%s: reload from files reproduces loss %.7f" % (case, float(outs["loss"])))
    check(np.abs(o["logits"].detach().numpy() - outs["logits"]).max() < 1e-5, "%s: reload reproduces logits" % case)
    gd = max(np.abs((m.params[n].grad.numpy() if m.params[n].grad is not None else 0) - outs["grad." + n]).max()
             / max(np.abs(outs["grad." + n]).max(), 1e-30) for n in m.params if np.abs(outs["grad." + n]).max() > 0)
    check(gd < 1e-6, "%s: reload reproduces every grad.* (per-tensor max rel %.1e); grads exclude the aux loss" % (case, gd))
    # aux loss: independent count-based form  E * sum_e (#valid (token,slot) picks of e / #valid tokens) * meanprob_e
    tc_, _ = parse_config(cfg)
    E_, k_ = tc_["n_routed_experts"], tc_["num_experts_per_tok"]
    valid = torch.from_numpy(inp["attention_mask"]).reshape(-1).bool()
    cat = torch.cat([lg.detach()[valid] for lg in o["router_logits"]])
    pr = torch.softmax(cat, -1)
    cnt = torch.zeros(E_, dtype=torch.float64)
    for row in pr.topk(k_, -1)[1]:
        for e in row.tolist():
            cnt[e] += 1
    tot = E_ * float((cnt / cat.shape[0] * pr.mean(0)).sum())
    check(abs(tot - float(outs["aux_loss"])) < 1e-6 * tot, "%s: aux_loss %.6f == count-based recomputation %.6f"
          % (case, float(outs["aux_loss"]), tot))
    names = set(m.params)
    gnames = {k[5:] for k in outs if k.startswith("grad.")}
    check(names == gnames, "%s: grad.<name> for every parameter (%d), none for the bias buffer" % (case, len(names)))
    tc, _ = parse_config(cfg)
    E = outs["grad.model.language_model.embed_tokens.weight"]
    check(np.all(E[tc["pad_token_id"]] == 0) and np.all(E[tc["image_token_id"]] == 0),
          "%s: embedding rows of pad_token_id and image_token_id have zero grad" % case)
    check(int((inp["input_ids"][inp["attention_mask"] == 1] == tc["pad_token_id"]).sum()) >= 1,
          "%s: pad_token_id occurs at a valid (attended) position" % case)
    # header sanity: 8-aligned data start, data contiguous in (dtype rank desc, name) order
    from st_io import _RANK
    for f in ("model.safetensors", "inputs.safetensors", "outputs.safetensors"):
        h, start = read_header(os.path.join(d, f))
        ks = sorted((k for k in h if k != "__metadata__"), key=lambda k: (-_RANK[h[k]["dtype"]], k.encode()))
        offs = [h[k]["data_offsets"] for k in ks]
        ok = start % 8 == 0 and offs[0][0] == 0 and all(a[1] == b[0] for a, b in zip(offs, offs[1:]))
        ok &= os.path.getsize(os.path.join(d, f)) == start + offs[-1][1]
        check(ok, "%s/%s: 8-aligned header, data contiguous in reference-writer order" % (case, f))
    # sharded loading
    with tempfile.TemporaryDirectory() as td:
        names = sorted(weights)
        half = len(names) // 2
        shards = {"model-00001-of-00002.safetensors": names[:half], "model-00002-of-00002.safetensors": names[half:]}
        wm = {}
        for sh, ns in shards.items():
            save_file({n: weights[n] for n in ns}, os.path.join(td, sh))
            wm.update({n: sh for n in ns})
        import json
        with open(os.path.join(td, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": sum(w.nbytes for w in weights.values())}, "weight_map": wm}, f)
        with open(os.path.join(td, "config.json"), "w") as f:
            json.dump(cfg, f)
        m2 = Glm4vMoeRef.from_pretrained(td, torch.float64)
        o2 = loss_of(m2, inp)
        check(o2["loss"].item() == o["loss"].item(), "%s: sharded checkpoint (index.json) loads identically" % case)


def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def check_determinism():
    print("[e] determinism: regenerate twice, compare bytes with each other and with golden/")
    with tempfile.TemporaryDirectory() as td:
        for k in ("r1", "r2"):
            subprocess.run([sys.executable, os.path.join(HERE, "gen_golden.py"), "--out", os.path.join(td, k)],
                           check=True, stdout=subprocess.DEVNULL)
        for case in G.CASES:
            for f in ("config.json", "model.safetensors", "inputs.safetensors", "outputs.safetensors"):
                a, b = sha(os.path.join(td, "r1", case, f)), sha(os.path.join(td, "r2", case, f))
                c = sha(os.path.join(HERE, "golden", case, f))
                check(a == b == c, "%s/%s byte-identical (sha256 %s)" % (case, f, a[:16]))


def main():
    fast = "--fast" in sys.argv
    data = {c: case_data(c) for c in G.CASES}
    for c, (cfg, w, inp) in data.items():
        check_fd(c, cfg, w, inp)
    for c, (cfg, w, inp) in data.items():
        check_f32_f64(c, cfg, w, inp)
    check_merge_order(*data["case1"][:2])
    check_rope_index(data["case1"][0], data["case1"][2])
    for c, (cfg, w, inp) in data.items():
        check_mutations(c, cfg, w, inp)
    for c, (cfg, w, inp) in data.items():
        check_padding_sides(c, cfg, w, inp)
    for c, (cfg, w, inp) in data.items():
        check_components(cfg, w)
    for c, (cfg, w, inp) in data.items():
        check_files(c, cfg, w, inp)
    if not fast:
        check_determinism()
    print("\n%d check(s) failed" % len(FAILS) if FAILS else "\nALL CHECKS PASSED")
    sys.exit(1 if FAILS else 0)


if __name__ == "__main__":
    main()
