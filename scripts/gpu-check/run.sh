#!/usr/bin/env bash
# The GPU self-check that `make gpu-check` sends to a GPU machine (which has the CUDA driver,
# cuBLAS/NCCL in Python wheels and PyTorch, but no Go). Run from the repository root with the
# static binary at bin/glmflow (or $GLMFLOW_BIN), or gzipped at bin/glmflow.gz (the full binary
# is ~100 MB, over the device tool's 64 MiB carry limit; gzip -9 makes it ~25 MB). Writes
# $OUT/report.md (plus logs) and finishes within 5 minutes: the Go check gets at most 200 s,
# the PyTorch comparison the rest.
set -u
OUT=${OUT:-$PWD/gpu-check-out}
BIN=${GLMFLOW_BIN:-bin/glmflow}
mkdir -p "$OUT"
if [ ! -x "$BIN" ] && [ -f "$BIN.gz" ]; then
  tmp=$(mktemp -d) # not under $OUT: everything there is copied back
  gunzip -c "$BIN.gz" >"$tmp/glmflow" && chmod +x "$tmp/glmflow" && BIN="$tmp/glmflow"
fi
start=$(date +%s)
report="$OUT/report.md"

# cuBLAS and NCCL live in the wheels' nvidia/*/lib folders; glmflow searches the standard
# site-packages itself, and this adds whatever this python3 knows (venvs, conda).
if command -v python3 >/dev/null 2>&1; then
  extra=$(python3 - <<'PY' 2>/dev/null
import glob, os, site
roots = list(site.getsitepackages()) + [site.getusersitepackages()]
dirs = sorted({d for r in roots for d in glob.glob(os.path.join(r, "nvidia", "*", "lib"))})
print(":".join(dirs))
PY
)
  if [ -n "$extra" ]; then export LD_LIBRARY_PATH="$extra${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; fi
fi

nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1 || echo "nvidia-smi unavailable" >"$OUT/nvidia-smi.txt"
"$BIN" gpu >"$OUT/gpu-info.txt" 2>&1 || true

timeout -k 5 200 "$BIN" gpu check --report "$report" --layer-json "$OUT/layer.json" >"$OUT/check.log" 2>&1
rc=$?
if [ ! -s "$report" ]; then
  printf '# glmflow gpu check\n\nthe binary wrote no report (exit %d); see check.log\n\n' "$rc" >"$report"
fi
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
  printf '\n**TIMEOUT**: glmflow gpu check was stopped after 200 s; the last section above did not finish.\n\n' >>"$report"
fi
{
  printf '\n## glmflow gpu (discovery)\n\n```\n'; cat "$OUT/gpu-info.txt"; printf '```\n\n'
  printf '## nvidia-smi\n\n```\n'; head -20 "$OUT/nvidia-smi.txt"; printf '```\n\n'
} >>"$report"

left=$((285 - ($(date +%s) - start)))
printf '## PyTorch eager layer (same shapes)\n\n' >>"$report"
if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import torch' >/dev/null 2>&1; then
  printf 'skipped: no python3 with torch\n' >>"$report"
elif [ "$left" -lt 30 ]; then
  printf 'skipped: %d s left of the 5-minute budget\n' "$left" >>"$report"
else
  timeout -k 5 "$left" python3 scripts/gpu-check/layer_torch.py --tokens 4096 \
    --json "$OUT/torch_layer.json" --glmflow-json "$OUT/layer.json" >>"$report" 2>"$OUT/torch.log" ||
    printf '\nPyTorch layer failed or timed out (exit %d); see torch.log\n' "$?" >>"$report"
fi
printf '\n_total %d s_\n' "$(($(date +%s) - start))" >>"$report"
exit "$rc"
