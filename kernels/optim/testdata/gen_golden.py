#!/usr/bin/python3
"""Writes adamw_golden.json: torch.optim.AdamW and torch.nn.utils.clip_grad_norm_ results on
small random tensors, for optim's golden tests (Go tests read the JSON; they never need torch).

Run from this directory with Debian's python3-torch:  /usr/bin/python3 gen_golden.py
"""
import json

import torch

torch.manual_seed(1234)
shapes = [(7,), (3, 11)]
steps = 6
cfg = dict(lr=3e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)

params = [torch.nn.Parameter(torch.randn(s) * 0.5) for s in shapes]
init = [p.detach().clone() for p in params]
opt = torch.optim.AdamW(params, lr=cfg["lr"], betas=cfg["betas"], eps=cfg["eps"],
                        weight_decay=cfg["weight_decay"], foreach=False)
grads, after = [], []
for step in range(steps):
    gs = [torch.randn(s) * (0.1 * (step + 1)) for s in shapes]
    for p, g in zip(params, gs):
        p.grad = g.clone()
    opt.step()
    grads.append([g.flatten().tolist() for g in gs])
    after.append({
        "p": [p.detach().flatten().tolist() for p in params],
        "m": [opt.state[p]["exp_avg"].flatten().tolist() for p in params],
        "v": [opt.state[p]["exp_avg_sq"].flatten().tolist() for p in params],
    })

clip_in = [torch.randn(s) * 2 for s in shapes]
clip_cases = []
for max_norm in (1.0, 1e3):
    ps = [torch.nn.Parameter(torch.zeros(s)) for s in shapes]
    for p, g in zip(ps, clip_in):
        p.grad = g.clone()
    total = torch.nn.utils.clip_grad_norm_(ps, max_norm)
    clip_cases.append({"max_norm": max_norm, "total_norm": float(total),
                       "grads": [p.grad.flatten().tolist() for p in ps]})

with open("adamw_golden.json", "w") as f:
    json.dump({
        "torch": torch.__version__,
        "lr": cfg["lr"], "beta1": cfg["betas"][0], "beta2": cfg["betas"][1],
        "eps": cfg["eps"], "weight_decay": cfg["weight_decay"],
        "init": [p.flatten().tolist() for p in init],
        "grads": grads, "after": after,
        "clip_in": [g.flatten().tolist() for g in clip_in], "clip": clip_cases,
    }, f)
