#!/usr/bin/env bash
# Vision tower training step (fwd + bwd, 8 images of 224², bf16 mixed precision) beside the
# PyTorch peer, alternating ROUNDS times, one thread each. Prints per round glmflow's images per
# CPU-second and median-step images/s, the peer's median images/s by wall clock and by CPU time
# (its step timer switched to time.process_time), and the two ratios. CPU time is the steadier
# comparison on a shared machine whose vCPUs come and go.
#
#   scripts/peer/vision-vs-peer.sh [ROUNDS]      (PEER=path/to/torch_cpu_peer.py, PY=python)
set -euo pipefail
ROUNDS=${1:-4}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PEER=${PEER:-$ROOT/../shared/peer/torch_cpu_peer.py}
PY=${PY:-/usr/bin/python3}
[ -f "$PEER" ] || { echo "vision-vs-peer: peer script $PEER not found (set PEER=)" >&2; exit 1; }
"$PY" -c 'import torch' 2>/dev/null || { echo "vision-vs-peer: $PY has no torch (apt-get install python3-torch)" >&2; exit 1; }
BIN=$(mktemp -d)/glm4v.test
trap 'rm -rf "$(dirname "$BIN")"' EXIT
(cd "$ROOT/stages/glm4v" && go test -c -o "$BIN" .)
peer() { # $1: wall or cpu
	OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE "$PY" - "$PEER" "$1" <<'PY'
import runpy, sys, time
peer, clock = sys.argv[1], sys.argv[2]
sys.argv = [peer, "--threads", "1", "--which", "vit"]
if clock == "cpu":
    time.perf_counter = time.process_time
runpy.run_path(peer, run_name="__main__")
PY
}
num() { grep -o "[0-9.]* $1" | head -1 | cut -d' ' -f1; }
for i in $(seq 1 "$ROUNDS"); do
	g=$(cd "$ROOT/stages/glm4v" && GOMAXPROCS=1 "$BIN" -test.run '^$' -test.bench 'VisionFwdBwd/bf16' -test.benchtime 8x)
	gc=$(echo "$g" | num 'images/cpu-s')
	gm=$(echo "$g" | num 'images/s-median')
	pw=$(peer wall | grep -o '"images_per_s_median": [0-9.]*' | grep -o '[0-9.]*$')
	pc=$(peer cpu | grep -o '"images_per_s_median": [0-9.]*' | grep -o '[0-9.]*$')
	echo "round $i: glmflow $gc images/cpu-s, $gm images/s (median step) | peer $pc images/cpu-s, $pw images/s | ratio cpu $(awk "BEGIN{printf \"%.2f\", $gc/$pc}") wall $(awk "BEGIN{printf \"%.2f\", $gm/$pw}")"
done
