"""Independent plain-PyTorch reference of GLM-4.5V (HF Glm4vMoeForConditionalGeneration).

Written from /work/shared/docs/glm45v.md (section numbers below refer to it) to reproduce
the Hugging Face transformers 4.55-4.57 semantics (per-expert ModuleList, 4.5x config spelling).
Functional style: parameters live in a dict keyed by the exact HF checkpoint names, so the
model loads hub-style directories (config.json + model.safetensors[.index.json]) directly.

dtype: torch.float32 reproduces HF's float32 run; torch.float64 runs every op in float64
(HF's internal float32 up-casts become no-ops instead of down-casts) and is used to produce
the golden outputs and for finite-difference checks.

`mut` (a set of strings) switches on deliberate deviations ("mutations") used only by the
self-checks to prove that the golden data is sensitive to typical bugs. Empty = HF behaviour.
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # keep testdata/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from st_io import load_model_dir  # noqa: E402

NO_MUT = frozenset()


# ----------------------------------------------------------------------------------------
# config
# ----------------------------------------------------------------------------------------
def parse_config(cfg):
    """Normalise an HF config dict (4.5x `rope_scaling`+`rope_theta` spelling, or v5
    `rope_parameters`) into flat dicts tc (text) and vc (vision). §1.1, §1.2."""
    t = cfg["text_config"]
    v = cfg["vision_config"]
    rp = t.get("rope_parameters") or {}
    rs = t.get("rope_scaling") or {}
    tc = dict(
        vocab_size=t["vocab_size"],
        hidden_size=t["hidden_size"],
        intermediate_size=t["intermediate_size"],
        moe_intermediate_size=t["moe_intermediate_size"],
        num_hidden_layers=t["num_hidden_layers"],
        num_attention_heads=t["num_attention_heads"],
        num_key_value_heads=t["num_key_value_heads"],
        head_dim=t.get("head_dim") or t["hidden_size"] // t["num_attention_heads"],
        hidden_act=t.get("hidden_act", "silu"),
        attention_bias=t.get("attention_bias", True),
        use_qk_norm=t.get("use_qk_norm", False),
        partial_rotary_factor=t.get("partial_rotary_factor", rp.get("partial_rotary_factor", 0.5)),
        rope_theta=t.get("rope_theta", rp.get("rope_theta", 10000.0)),
        mrope_section=list(rs.get("mrope_section") or rp.get("mrope_section")),
        rms_norm_eps=t.get("rms_norm_eps", 1e-5),
        first_k_dense_replace=t.get("first_k_dense_replace", 1),
        n_routed_experts=t["n_routed_experts"],
        n_shared_experts=t.get("n_shared_experts", 1),
        num_experts_per_tok=t["num_experts_per_tok"],
        n_group=t.get("n_group", 1),
        topk_group=t.get("topk_group", 1),
        norm_topk_prob=t.get("norm_topk_prob", True),
        routed_scaling_factor=float(t.get("routed_scaling_factor", 1.0)),
        router_aux_loss_coef=float(t.get("router_aux_loss_coef", 1e-4)),
        pad_token_id=t.get("pad_token_id", cfg.get("pad_token_id")),
        tie_word_embeddings=cfg.get("tie_word_embeddings", t.get("tie_word_embeddings", False)),
    )

    def tok(name):
        return cfg.get(name, t.get(name))

    tc.update(image_token_id=tok("image_token_id"), video_token_id=tok("video_token_id"),
              image_start_token_id=tok("image_start_token_id"),
              image_end_token_id=tok("image_end_token_id"),
              video_start_token_id=tok("video_start_token_id"),
              video_end_token_id=tok("video_end_token_id"))
    if tc["use_qk_norm"]:
        raise NotImplementedError("use_qk_norm=true is not used by GLM-4.5V")
    if tc["hidden_act"] != "silu" or v.get("hidden_act", "silu") != "silu":
        raise NotImplementedError("only silu")
    vc = dict(
        depth=v["depth"], hidden_size=v["hidden_size"], num_heads=v["num_heads"],
        intermediate_size=v["intermediate_size"], out_hidden_size=v["out_hidden_size"],
        attention_bias=v.get("attention_bias", False), image_size=v["image_size"],
        patch_size=v["patch_size"], temporal_patch_size=v["temporal_patch_size"],
        spatial_merge_size=v["spatial_merge_size"], in_channels=v.get("in_channels", 3),
        rms_norm_eps=v.get("rms_norm_eps", 1e-5), rope_theta=10000.0,
    )
    if vc["out_hidden_size"] != tc["hidden_size"]:
        raise ValueError("vision out_hidden_size must equal text hidden_size (§1.2)")
    return tc, vc


def param_shapes(cfg):
    """Ordered {HF name: shape} of every trainable parameter (§2.6, §3.8), plus the set of
    buffer names stored in the checkpoint (e_score_correction_bias)."""
    tc, vc = parse_config(cfg)
    s = {}
    D, I, O = vc["hidden_size"], vc["intermediate_size"], vc["out_hidden_size"]
    C, T, P, m = vc["in_channels"], vc["temporal_patch_size"], vc["patch_size"], vc["spatial_merge_size"]
    V = "model.visual."
    s[V + "patch_embed.proj.weight"] = (D, C, T, P, P)
    s[V + "patch_embed.proj.bias"] = (D,)
    s[V + "post_conv_layernorm.weight"] = (D,)
    s[V + "embeddings.position_embedding.weight"] = ((vc["image_size"] // P) ** 2, D)
    for i in range(vc["depth"]):
        b = V + "blocks.%d." % i
        s[b + "norm1.weight"] = (D,)
        s[b + "norm2.weight"] = (D,)
        s[b + "attn.qkv.weight"] = (3 * D, D)
        if vc["attention_bias"]:
            s[b + "attn.qkv.bias"] = (3 * D,)
        s[b + "attn.proj.weight"] = (D, D)
        s[b + "mlp.gate_proj.weight"] = (O, D)
        s[b + "mlp.up_proj.weight"] = (O, D)
        s[b + "mlp.down_proj.weight"] = (D, O)
    s[V + "post_layernorm.weight"] = (D,)
    s[V + "downsample.weight"] = (O, D, m, m)
    s[V + "downsample.bias"] = (O,)
    s[V + "merger.proj.weight"] = (O, O)
    s[V + "merger.post_projection_norm.weight"] = (O,)
    s[V + "merger.post_projection_norm.bias"] = (O,)
    s[V + "merger.gate_proj.weight"] = (I, O)
    s[V + "merger.up_proj.weight"] = (I, O)
    s[V + "merger.down_proj.weight"] = (O, I)

    H, hd = tc["hidden_size"], tc["head_dim"]
    nq, nkv = tc["num_attention_heads"], tc["num_key_value_heads"]
    L = "model.language_model."
    s[L + "embed_tokens.weight"] = (tc["vocab_size"], H)
    buffers = set()
    for i in range(tc["num_hidden_layers"]):
        b = L + "layers.%d." % i
        s[b + "input_layernorm.weight"] = (H,)
        s[b + "post_attention_layernorm.weight"] = (H,)
        s[b + "self_attn.q_proj.weight"] = (nq * hd, H)
        s[b + "self_attn.k_proj.weight"] = (nkv * hd, H)
        s[b + "self_attn.v_proj.weight"] = (nkv * hd, H)
        if tc["attention_bias"]:
            s[b + "self_attn.q_proj.bias"] = (nq * hd,)
            s[b + "self_attn.k_proj.bias"] = (nkv * hd,)
            s[b + "self_attn.v_proj.bias"] = (nkv * hd,)
        s[b + "self_attn.o_proj.weight"] = (H, nq * hd)
        if i < tc["first_k_dense_replace"]:
            Id = tc["intermediate_size"]
            s[b + "mlp.gate_proj.weight"] = (Id, H)
            s[b + "mlp.up_proj.weight"] = (Id, H)
            s[b + "mlp.down_proj.weight"] = (H, Id)
        else:
            E, Im = tc["n_routed_experts"], tc["moe_intermediate_size"]
            s[b + "mlp.gate.weight"] = (E, H)
            buffers.add(b + "mlp.gate.e_score_correction_bias")
            for e in range(E):
                eb = b + "mlp.experts.%d." % e
                s[eb + "gate_proj.weight"] = (Im, H)
                s[eb + "up_proj.weight"] = (Im, H)
                s[eb + "down_proj.weight"] = (H, Im)
            Is = Im * tc["n_shared_experts"]
            s[b + "mlp.shared_experts.gate_proj.weight"] = (Is, H)
            s[b + "mlp.shared_experts.up_proj.weight"] = (Is, H)
            s[b + "mlp.shared_experts.down_proj.weight"] = (H, Is)
    s[L + "norm.weight"] = (H,)
    if not tc["tie_word_embeddings"]:
        s["lm_head.weight"] = (tc["vocab_size"], H)
    return s, buffers


def buffer_shapes(cfg):
    tc, _ = parse_config(cfg)
    _, bufs = param_shapes(cfg)
    return {b: (tc["n_routed_experts"],) for b in sorted(bufs)}


# ----------------------------------------------------------------------------------------
# small building blocks
# ----------------------------------------------------------------------------------------
def rms_norm(x, w, eps):
    """HF Glm4v(Moe)RMSNorm (§3.2): normalise in float32 (or float64), cast back, times weight."""
    dt = x.dtype
    xf = x.to(torch.float64 if dt == torch.float64 else torch.float32)
    xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
    return w * xf.to(dt)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def swiglu(x, p, prefix):
    return F.linear(F.silu(F.linear(x, p[prefix + "gate_proj.weight"])) * F.linear(x, p[prefix + "up_proj.weight"]),
                    p[prefix + "down_proj.weight"])


def hf_inv_freq(dim, theta):
    """inv_freq exactly as HF builds the buffer: float32, 1/theta^(arange(0,dim,2)/dim)."""
    return 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.int64).to(torch.float32) / dim))


# ----------------------------------------------------------------------------------------
# vision tower (§2)
# ----------------------------------------------------------------------------------------
def vision_pos_ids(grid_thw, m, raster=False):
    """(h, w) patch coordinates in merge-block order (§2.3, §5.3), repeated per frame.
    raster=True is a mutation (plain raster order) used only by the self-checks."""
    hs, ws = [], []
    for t, h, w in grid_thw.tolist():
        hh = torch.arange(h).unsqueeze(1).expand(-1, w)
        ww = torch.arange(w).unsqueeze(0).expand(h, -1)
        if not raster:
            hh = hh.reshape(h // m, m, w // m, m).permute(0, 2, 1, 3)
            ww = ww.reshape(h // m, m, w // m, m).permute(0, 2, 1, 3)
        hs.append(hh.flatten().repeat(t))
        ws.append(ww.flatten().repeat(t))
    return torch.cat(hs), torch.cat(ws)


def vision_segments(grid_thw):
    """cu_seqlens as in HF: one segment of h*w rows per frame (t repeats)."""
    lens = []
    for t, h, w in grid_thw.tolist():
        lens += [h * w] * t
    cu = [0]
    for n in lens:
        cu.append(cu[-1] + n)
    return cu, lens


def interp_pos_embed(table, hpos, wpos, grid_thw, lens, dtype, mut=NO_MUT):
    """Learned position embedding, bicubically resampled with F.grid_sample exactly like HF
    Glm4vVisionEmbeddings (§2.2). Returns [N, D]."""
    n_pos, D = table.shape
    S = int(n_pos ** 0.5)
    cdt = torch.float64 if dtype == torch.float64 else torch.float32   # HF: float32
    pe2d = table.view(S, S, D).permute(2, 0, 1).unsqueeze(0).to(cdt)
    # HF builds target_h/target_w per cu_seqlens segment from image_shapes[i] (same for t=1)
    th = torch.cat([torch.full((n,), float(grid_thw[i, 1]), dtype=cdt) for i, n in enumerate(lens)])
    tw = torch.cat([torch.full((n,), float(grid_thw[i, 2]), dtype=cdt) for i, n in enumerate(lens)])
    norm_w = ((wpos.to(cdt) + 0.5) / tw) * 2 - 1
    norm_h = ((hpos.to(cdt) + 0.5) / th) * 2 - 1
    grid = torch.stack((norm_w, norm_h), dim=-1).unsqueeze(0).unsqueeze(2)   # [1, N, 1, 2]
    mode = "bilinear" if "pos_bilinear" in mut else "bicubic"
    ac = "pos_align_corners" in mut
    out = F.grid_sample(pe2d, grid, mode=mode, align_corners=ac, padding_mode="border")  # [1, D, N, 1]
    return out.squeeze(0).squeeze(-1).permute(1, 0).to(table.dtype)


def bicubic_pos_embed_manual(table, hpos, wpos, Hs, Ws):
    """The closed-form bicubic grid_sample of §2.2 (A=-0.75, per-tap border clamp), written
    out by hand; used by the self-checks to show it equals F.grid_sample. Hs/Ws per patch."""
    n_pos, D = table.shape
    S = int(n_pos ** 0.5)
    g = table.view(S, S, D)
    A = -0.75

    def wts(t):
        return [((A * (t + 1) - 5 * A) * (t + 1) + 8 * A) * (t + 1) - 4 * A,
                ((A + 2) * t - (A + 3)) * t * t + 1,
                ((A + 2) * (1 - t) - (A + 3)) * (1 - t) * (1 - t) + 1,
                ((A * (2 - t) - 5 * A) * (2 - t) + 8 * A) * (2 - t) - 4 * A]

    out = []
    for h, w, H, W in zip(hpos.tolist(), wpos.tolist(), Hs, Ws):
        ix = (w + 0.5) * S / W - 0.5
        iy = (h + 0.5) * S / H - 0.5
        x0, y0 = math.floor(ix), math.floor(iy)
        wx, wy = wts(ix - x0), wts(iy - y0)
        acc = torch.zeros(D, dtype=table.dtype)
        for a in range(4):
            yy = min(max(y0 - 1 + a, 0), S - 1)
            row = torch.zeros(D, dtype=table.dtype)
            for b in range(4):
                xx = min(max(x0 - 1 + b, 0), S - 1)
                row = row + wx[b] * g[yy, xx]
            acc = acc + wy[a] * row
        out.append(acc)
    return torch.stack(out)


def vision_rope(hpos, wpos, head_dim, theta, dtype):
    """2-D vision rotary (§2.3): cos/sin [N, head_dim]."""
    inv = hf_inv_freq(head_dim // 2, theta)            # head_dim/4 entries, float32 like HF
    cdt = torch.float64 if dtype == torch.float64 else torch.float32
    inv = inv.to(cdt)
    f = torch.cat([hpos.to(cdt)[:, None] * inv[None], wpos.to(cdt)[:, None] * inv[None]], dim=-1)
    emb = torch.cat([f, f], dim=-1)
    return emb.cos(), emb.sin()


def vision_forward(p, vc, pixel_values, grid_thw, dtype, mut=NO_MUT, debug=None):
    """pixel_values [N, C*T*P*P] (rows in merge-block order), grid_thw [n, 3] -> [N/4, out_hidden]."""
    V = "model.visual."
    D, nh = vc["hidden_size"], vc["num_heads"]
    hd = D // nh
    m = vc["spatial_merge_size"]
    eps = vc["rms_norm_eps"]
    x = pixel_values.to(dtype)
    N = x.shape[0]
    # 1. patch embed: Conv3d with kernel == stride == patch volume is a matmul over the row
    W = p[V + "patch_embed.proj.weight"]
    x = F.linear(x, W.reshape(W.shape[0], -1), p[V + "patch_embed.proj.bias"])
    # 2. post-conv RMSNorm
    x = rms_norm(x, p[V + "post_conv_layernorm.weight"], eps)
    # 3. coordinates, rotary tables, segments
    hpos, wpos = vision_pos_ids(grid_thw, m, raster="vision_raster_order" in mut)
    cos, sin = vision_rope(hpos, wpos, hd, vc["rope_theta"], dtype)
    cu, lens = vision_segments(grid_thw)
    # 4. learned position embedding, bicubic-resampled
    pe = interp_pos_embed(p[V + "embeddings.position_embedding.weight"], hpos, wpos, grid_thw, lens, dtype, mut)
    if debug is not None:
        debug["vision_pos_embed"] = pe
    x = x + pe
    # 5. blocks
    for i in range(vc["depth"]):
        b = V + "blocks.%d." % i
        h = rms_norm(x, p[b + "norm1.weight"], eps)
        qkv = F.linear(h, p[b + "attn.qkv.weight"], p.get(b + "attn.qkv.bias"))
        q, k, v = qkv.reshape(N, 3, nh, hd).permute(1, 0, 2, 3).unbind(0)   # [N, nh, hd]
        if "no_vision_rope" not in mut:
            c, s_ = cos[:, None, :].to(q.dtype), sin[:, None, :].to(q.dtype)
            q = q * c + rotate_half(q) * s_
            k = k * c + rotate_half(k) * s_
        outs = []
        for a, e in zip(cu[:-1], cu[1:]):
            qs, ks, vs = (t[a:e].transpose(0, 1) for t in (q, k, v))   # [nh, n, hd]
            att = torch.matmul(qs, ks.transpose(1, 2)) * hd ** -0.5
            att = torch.softmax(att, dim=-1)
            outs.append(torch.matmul(att, vs).transpose(0, 1))       # [n, nh, hd]
        o = torch.cat(outs, dim=0).reshape(N, D)
        x = x + F.linear(o, p[b + "attn.proj.weight"])
        h = rms_norm(x, p[b + "norm2.weight"], eps)
        x = x + swiglu(h, p, b + "mlp.")
    # 6. post layernorm
    x = rms_norm(x, p[V + "post_layernorm.weight"], eps)
    # 7. 2x2 downsample: 4 consecutive rows = one merge block (r0c0, r0c1, r1c0, r1c1)
    x = x.view(-1, m, m, D)
    if "downsample_transpose" in mut:
        x = x.transpose(1, 2)
    x = x.permute(0, 3, 1, 2)
    x = F.conv2d(x, p[V + "downsample.weight"], p[V + "downsample.bias"], stride=m)
    x = x.view(-1, vc["out_hidden_size"])
    # 8. merger
    x = F.linear(x, p[V + "merger.proj.weight"])
    x = F.layer_norm(x, (x.shape[-1],), p[V + "merger.post_projection_norm.weight"],
                     p[V + "merger.post_projection_norm.bias"], eps=1e-5)
    x = F.gelu(x)  # exact erf GELU
    x = swiglu(x, p, V + "merger.")
    return x


# ----------------------------------------------------------------------------------------
# 3-D position ids (§4.3), transformers 4.5x Glm4vMoeModel.get_rope_index, images only
# ----------------------------------------------------------------------------------------
def get_rope_index(input_ids, image_grid_thw, attention_mask, tc, m, pad_pos=1):
    """Returns position_ids [3, B, T] (int64) and rope_deltas [B, 1].

    Padded slots (attention_mask == 0) get `pad_pos` (1 in transformers 4.55-4.57, 0 in v5);
    they only influence outputs at padded positions."""
    B, T = input_ids.shape
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    img, vid = tc["image_token_id"], tc["video_token_id"]
    vs, ve = tc["video_start_token_id"], tc["video_end_token_id"]
    if image_grid_thw is None:
        pos = attention_mask.long().cumsum(-1) - 1
        pos = pos.masked_fill(attention_mask == 0, pad_pos)
        pos = pos.unsqueeze(0).expand(3, -1, -1).clone()
        deltas = pos.max(0)[0].max(-1, keepdim=True)[0] + 1 - T
        return pos, deltas
    position_ids = torch.full((3, B, T), pad_pos, dtype=torch.int64)
    deltas = []
    image_index = 0
    for bi in range(B):
        keep = attention_mask[bi] == 1
        ids = input_ids[bi][keep].tolist()
        types = []
        in_video = False
        for tkn in ids:
            if tkn == vs:
                in_video = True
            elif tkn == ve:
                in_video = False
            if tkn == img and not in_video:
                types.append("image")
            elif tkn == img and in_video:
                raise NotImplementedError("video frames are out of scope of this reference")
            elif tkn == vid:
                raise NotImplementedError("video tokens are out of scope of this reference")
            else:
                types.append("text")
        # maximal runs of equal type (itertools.groupby)
        runs = []
        for i, ty in enumerate(types):
            if runs and runs[-1][0] == ty:
                runs[-1][2] = i + 1
            else:
                runs.append([ty, i, i + 1])
        chunks = []
        for ty, a, e in runs:
            st = int(chunks[-1].max()) + 1 if chunks else 0
            if ty == "image":
                t, h, w = image_grid_thw[image_index].tolist()
                gt, gh, gw = t, h // m, w // m
                ti = torch.arange(gt).view(-1, 1).expand(-1, gh * gw).flatten()
                hi = torch.arange(gh).view(1, -1, 1).expand(gt, -1, gw).flatten()
                wi = torch.arange(gw).view(1, 1, -1).expand(gt, gh, -1).flatten()
                blk = torch.stack([ti, hi, wi]) + st
                if blk.shape[1] != e - a:
                    raise ValueError("image run length %d != grid tokens %d" % (e - a, blk.shape[1]))
                chunks.append(blk)
                image_index += 1
            else:
                chunks.append(torch.arange(e - a).view(1, -1).expand(3, -1) + st)
        llm = torch.cat(chunks, dim=1) if chunks else torch.zeros(3, 0, dtype=torch.int64)
        position_ids[:, bi, keep] = llm
        deltas.append((int(llm.max()) + 1 if llm.numel() else 0) - len(ids))
    return position_ids, torch.tensor(deltas).unsqueeze(1)


# ----------------------------------------------------------------------------------------
# text decoder (§3)
# ----------------------------------------------------------------------------------------
def text_rope(position_ids, tc, dtype, mut=NO_MUT):
    """MRoPE cos/sin [B, T, rotary_dim] (§3.5)."""
    rot = int(tc["head_dim"] * tc["partial_rotary_factor"])
    inv = hf_inv_freq(rot, tc["rope_theta"])
    cdt = torch.float64 if dtype == torch.float64 else torch.float32
    inv = inv.to(cdt)
    pos = position_ids.to(cdt)                                # [3, B, T]
    if "mrope_1d" in mut:
        pos = pos[:1].expand(3, -1, -1)
    freqs = pos[..., None] * inv                              # [3, B, T, rot/2]
    emb = torch.cat([freqs, freqs], dim=-1)                   # [3, B, T, rot]
    cos, sin = emb.cos(), emb.sin()
    sec = tc["mrope_section"] * 2
    assert sum(sec) == rot, "2*sum(mrope_section) must equal the rotary dim"
    cos = torch.cat([c[i % 3] for i, c in enumerate(cos.split(sec, dim=-1))], dim=-1)
    sin = torch.cat([c[i % 3] for i, c in enumerate(sin.split(sec, dim=-1))], dim=-1)
    return cos.to(dtype), sin.to(dtype)


def apply_partial_rope(x, cos, sin, mut=NO_MUT):
    """x [B, nh, T, hd]; NeoX half-split rotation on the first rotary_dim dims (§3.4, §3.5)."""
    rot = cos.shape[-1]
    c, s_ = cos[:, None], sin[:, None]
    xr, xp = x[..., :rot], x[..., rot:]
    if "rope_interleaved" in mut:   # GLM-4.1V style pairs (2i, 2i+1) -- a bug for 4.5V
        c = c[..., : rot // 2].repeat_interleave(2, dim=-1)
        s_ = s_[..., : rot // 2].repeat_interleave(2, dim=-1)
        x1, x2 = xr[..., 0::2], xr[..., 1::2]
        rh = torch.stack((-x2, x1), dim=-1).flatten(-2)
        return torch.cat([xr * c + rh * s_, xp], dim=-1)
    return torch.cat([xr * c + rotate_half(xr) * s_, xp], dim=-1)


def attention(x, p, b, tc, cos, sin, add_mask, mut=NO_MUT):
    B, T, _ = x.shape
    nq, nkv, hd = tc["num_attention_heads"], tc["num_key_value_heads"], tc["head_dim"]
    q = F.linear(x, p[b + "q_proj.weight"], p.get(b + "q_proj.bias")).view(B, T, nq, hd).transpose(1, 2)
    k = F.linear(x, p[b + "k_proj.weight"], p.get(b + "k_proj.bias")).view(B, T, nkv, hd).transpose(1, 2)
    v = F.linear(x, p[b + "v_proj.weight"], p.get(b + "v_proj.bias")).view(B, T, nkv, hd).transpose(1, 2)
    q = apply_partial_rope(q, cos, sin, mut)
    k = apply_partial_rope(k, cos, sin, mut)
    rep = nq // nkv
    k = k.repeat_interleave(rep, dim=1)    # query head i uses kv head i // rep
    v = v.repeat_interleave(rep, dim=1)
    att = torch.matmul(q, k.transpose(2, 3)) * hd ** -0.5 + add_mask
    sdt = torch.float64 if x.dtype == torch.float64 else torch.float32
    att = torch.softmax(att, dim=-1, dtype=sdt).to(q.dtype)
    o = torch.matmul(att, v).transpose(1, 2).reshape(B, T, nq * hd)
    return F.linear(o, p[b + "o_proj.weight"])


def route(x2d, p, b, tc, mut=NO_MUT):
    """Sigmoid router with e_score_correction_bias selection and group-limited top-k (§3.7).
    Returns topk_idx [N, k], topk_w [N, k], raw router logits [N, E]."""
    E, k = tc["n_routed_experts"], tc["num_experts_per_tok"]
    G, TG = tc["n_group"], tc["topk_group"]
    rdt = torch.float64 if x2d.dtype == torch.float64 else torch.float32
    logits = F.linear(x2d.to(rdt), p[b + "gate.weight"].to(rdt))
    scores = torch.softmax(logits, -1) if "softmax_router" in mut else logits.sigmoid()
    bias = p[b + "gate.e_score_correction_bias"].to(rdt)
    with torch.no_grad():
        sc = scores.detach() + (0 if "no_bias_selection" in mut else bias[None])
        if G > 1 and "no_group_limit" not in mut:
            gs = sc.view(-1, G, E // G).topk(2, dim=-1)[0].sum(-1)            # [N, G]
            gidx = torch.topk(gs, k=TG, dim=-1, sorted=False)[1]
            gmask = torch.zeros_like(gs).scatter_(1, gidx, 1.0)
            smask = gmask.unsqueeze(-1).expand(-1, G, E // G).reshape(-1, E).bool()
            # 4.5x masks with 0.0, v5 with -inf; the golden data is checked to make both agree
            sc_a = sc.masked_fill(~smask, 0.0)
            sc_b = sc.masked_fill(~smask, float("-inf"))
            ia = torch.topk(sc_a, k=k, dim=-1)[1].sort(-1)[0]
            ib = torch.topk(sc_b, k=k, dim=-1)[1].sort(-1)[0]
            if not torch.equal(ia, ib):
                raise AssertionError("group masking 0.0 vs -inf disagree on these inputs")
            sc = sc_b
        idx = torch.topk(sc, k=k, dim=-1)[1].sort(-1)[0]   # sorted by expert id (order is irrelevant)
    src = (scores + bias[None]) if "bias_for_weights" in mut else scores
    w = src.gather(1, idx)
    if tc["norm_topk_prob"]:
        w = w / (w.sum(-1, keepdim=True) + 1e-20)
    w = w * tc["routed_scaling_factor"]
    return idx, w, logits


def moe(x, p, b, tc, mut=NO_MUT, debug=None, layer=None, router_logits=None):
    shp = x.shape
    x2d = x.reshape(-1, shp[-1])
    idx, w, logits = route(x2d, p, b, tc, mut)
    if router_logits is not None:
        router_logits.append(logits)
    if debug is not None:
        debug["router_in.%d" % layer] = x2d.detach()
        debug["router.%d.topk_indices" % layer] = idx
        debug["router.%d.topk_weights" % layer] = w
    out = torch.zeros(x2d.shape, dtype=w.dtype)
    for e in range(tc["n_routed_experts"]):
        tok, slot = torch.where(idx == e)
        if tok.numel() == 0:
            continue
        y = swiglu(x2d[tok], p, b + "experts.%d." % e)
        out = out.index_add(0, tok, y * w[tok, slot].unsqueeze(-1))
    out = out.to(x.dtype).view(shp)
    return out + swiglu(x, p, b + "shared_experts.")


def load_balancing_loss(router_logits, E, k, attention_mask):
    """HF (Mixtral-style) load_balancing_loss_func on raw router logits with softmax (§7.1)."""
    cat = torch.cat(router_logits, dim=0)
    rw = torch.softmax(cat, dim=-1)
    _, sel = torch.topk(rw, k, dim=-1)
    em = F.one_hot(sel, E).to(rw.dtype)                       # [N, k, E]
    if attention_mask is None:
        tpe = em.mean(0)
        ppe = rw.mean(0)
    else:
        B, T = attention_mask.shape
        nl = cat.shape[0] // (B * T)
        am = attention_mask.to(rw.dtype)
        eam = am[None, :, :, None, None].expand(nl, B, T, k, E).reshape(-1, k, E)
        tpe = (em * eam).sum(0) / eam.sum(0)
        ram = am[None, :, :, None].expand(nl, B, T, E).reshape(-1, E)
        ppe = (rw * ram).sum(0) / ram.sum(0)
    return (tpe * ppe.unsqueeze(0)).sum() * E


# ----------------------------------------------------------------------------------------
# the whole model
# ----------------------------------------------------------------------------------------
class Glm4vMoeRef:
    def __init__(self, config, tensors, dtype=torch.float32, strict=True):
        self.config = config
        self.tc, self.vc = parse_config(config)
        self.dtype = dtype
        shapes, buffers = param_shapes(config)
        if strict:
            missing = [n for n in list(shapes) + sorted(buffers) if n not in tensors]
            unexpected = [n for n in tensors if n not in shapes and n not in buffers]
            if missing or unexpected:
                raise ValueError("missing %s unexpected %s" % (missing[:5], unexpected[:5]))
        self.params = {}
        for n, shp in shapes.items():
            a = np.asarray(tensors[n])
            if tuple(a.shape) != tuple(shp):
                raise ValueError("%s: shape %s, expected %s" % (n, a.shape, shp))
            self.params[n] = torch.tensor(a, dtype=dtype).requires_grad_(True)
        self.buffers = {n: torch.tensor(np.asarray(tensors[n]), dtype=torch.float32
                                        if dtype == torch.float32 else dtype) for n in buffers}

    @classmethod
    def from_pretrained(cls, model_dir, dtype=torch.float32):
        cfg, t = load_model_dir(model_dir)
        return cls(cfg, t, dtype)

    def all_tensors(self):
        d = dict(self.params)
        d.update(self.buffers)
        return d

    def forward(self, input_ids, attention_mask=None, pixel_values=None, image_grid_thw=None,
                labels=None, output_router_logits=False, mut=NO_MUT, debug=None, pad_pos=1):
        tc, vc = self.tc, self.vc
        p = self.all_tensors()
        dt = self.dtype
        m = vc["spatial_merge_size"]
        input_ids = torch.as_tensor(input_ids, dtype=torch.int64)
        B, T = input_ids.shape
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        attention_mask = torch.as_tensor(attention_mask, dtype=torch.int64)
        L = "model.language_model."
        # embeddings with padding_idx semantics (§3.1: no gradient into the pad row)
        pad = tc["pad_token_id"]
        pidx = None if ("no_padding_idx" in mut or pad is None) else pad
        h = F.embedding(input_ids, p[L + "embed_tokens.weight"], padding_idx=pidx)
        # image features spliced at <|image|> positions in batch order (§4.2)
        if pixel_values is not None:
            g = torch.as_tensor(image_grid_thw, dtype=torch.int64)
            feats = vision_forward(p, vc, torch.as_tensor(pixel_values), g, dt, mut, debug)
            if debug is not None:
                debug["image_embeds"] = feats
            mask = input_ids == tc["image_token_id"]
            if int(mask.sum()) != feats.shape[0]:
                raise ValueError("Image features and image tokens do not match: tokens %d, features %d"
                                 % (int(mask.sum()), feats.shape[0]))
            h = h.masked_scatter(mask.unsqueeze(-1).expand_as(h), feats.to(h.dtype))
            grid = g
        else:
            grid = None
        position_ids, deltas = get_rope_index(input_ids, grid, attention_mask, tc, m, pad_pos=pad_pos)
        if debug is not None:
            debug["position_ids"] = position_ids
            debug["rope_deltas"] = deltas
        cos, sin = text_rope(position_ids, tc, dt, mut)
        # additive causal + key padding mask, eager-HF style (finfo.min, not -inf)
        causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
        allowed = causal[None, None] & (attention_mask[:, None, None, :] == 1)
        add_mask = torch.zeros(allowed.shape, dtype=dt).masked_fill(~allowed, torch.finfo(dt).min)
        eps = tc["rms_norm_eps"]
        router_logits = []
        for i in range(tc["num_hidden_layers"]):
            b = L + "layers.%d." % i
            r = rms_norm(h, p[b + "input_layernorm.weight"], eps)
            h = h + attention(r, p, b + "self_attn.", tc, cos, sin, add_mask, mut)
            r = rms_norm(h, p[b + "post_attention_layernorm.weight"], eps)
            if i < tc["first_k_dense_replace"]:
                h = h + swiglu(r, p, b + "mlp.")
            else:
                h = h + moe(r, p, b + "mlp.", tc, mut, debug, i, router_logits)
        h = rms_norm(h, p[L + "norm.weight"], eps)
        W = p[L + "embed_tokens.weight"] if tc["tie_word_embeddings"] else p["lm_head.weight"]
        logits = F.linear(h, W)
        out = {"logits": logits, "position_ids": position_ids, "router_logits": router_logits}
        if labels is not None:
            labels = torch.as_tensor(labels, dtype=torch.int64)
            lf = logits.to(torch.float64 if dt == torch.float64 else torch.float32)
            shift_labels = F.pad(labels, (0, 1), value=-100)[:, 1:]
            loss = F.cross_entropy(lf.reshape(-1, lf.shape[-1]), shift_labels.reshape(-1),
                                   ignore_index=-100, reduction="mean")
            out["loss"] = loss
        if output_router_logits:
            aux = load_balancing_loss(router_logits, tc["n_routed_experts"], tc["num_experts_per_tok"], attention_mask)
            out["aux_loss"] = aux
            if "loss" in out:
                out["loss"] = out["loss"] + tc["router_aux_loss_coef"] * aux
        return out


# ----------------------------------------------------------------------------------------
# preprocessing helper (§5.3) -- used by the self-checks and handy for Go processor tests
# ----------------------------------------------------------------------------------------
def patchify(frames, patch=14, merge=2):
    """frames [T=2, C, H', W'] (one temporal group; an image = the same frame twice) ->
    pixel_values [gh*gw, C*T*patch*patch] in merge-block row order, column order (c, t, ph, pw)."""
    Tt, C, H, W = frames.shape
    gh, gw = H // patch, W // patch
    x = frames.reshape(Tt, C, gh // merge, merge, patch, gw // merge, merge, patch)
    # axes: (t, c, bh, mh, ph, bw, mw, pw) -> (bh, bw, mh, mw, c, t, ph, pw)
    x = x.permute(2, 5, 3, 6, 1, 0, 4, 7)
    return x.reshape(gh * gw, C * Tt * patch * patch), (1, gh, gw)


# ----------------------------------------------------------------------------------------
# command line: run the reference on any HF-style model directory and inputs file
# ----------------------------------------------------------------------------------------
def main(argv=None):
    import argparse
    from st_io import load_file, save_file
    ap = argparse.ArgumentParser(description="GLM-4.5V reference forward/backward")
    ap.add_argument("model_dir", help="config.json + model.safetensors (or sharded with index.json)")
    ap.add_argument("inputs", help="safetensors with input_ids, attention_mask, labels, pixel_values, image_grid_thw")
    ap.add_argument("--out", help="write loss, logits and grad.<name> here (float32)")
    ap.add_argument("--f64", action="store_true", help="compute in float64")
    ap.add_argument("--aux", action="store_true", help="add HF's router aux loss (coef * load-balancing loss)")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    dt = torch.float64 if a.f64 else torch.float32
    model = Glm4vMoeRef.from_pretrained(a.model_dir, dt)
    inp = {k: torch.from_numpy(v) for k, v in load_file(a.inputs).items()}
    out = model.forward(inp["input_ids"], inp.get("attention_mask"), inp.get("pixel_values"),
                        inp.get("image_grid_thw"), inp.get("labels"), output_router_logits=a.aux)
    if "loss" in out:
        print("loss %.8f" % out["loss"].item())
    if a.out:
        res = {"logits": out["logits"].detach().float().numpy()}
        if "loss" in out:
            res["loss"] = out["loss"].detach().float().numpy()
            out["loss"].backward()
            for n, t in model.params.items():
                res["grad." + n] = (t.grad if t.grad is not None else torch.zeros_like(t)).float().numpy()
        save_file(res, a.out)


if __name__ == "__main__":
    main()
