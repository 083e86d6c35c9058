#!/bin/sh
# gen.sh — compile the CUDA kernels of this folder to PTX with clang (no CUDA toolkit needed).
#
#   kernels/cuda/ptx/gen.sh [OUTDIR]     (default OUTDIR: this folder)
#
# Writes OUTDIR/glmflow.sm_90a.ptx and OUTDIR/glmflow.sm_80.ptx from module.cu. CLANG names the
# compiler (default clang-19; Debian: apt-get install clang-19). The flags are part of the
# kernels' contract: -ffp-contract=off keeps every multiply and add separately rounded unless
# a kernel writes fmaf (the Go twins in math_test.go rely on it); the PTX ISA version is set
# explicitly because no CUDA installation tells clang which one to use (7.0 = CUDA 11.0 for
# sm_80, 8.0 = CUDA 12.0 for sm_90a).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
clang=${CLANG:-clang-19}
compile() { # arch ptx-feature src dst
	"$clang" -x cuda --cuda-device-only --cuda-gpu-arch="$1" -Xclang -target-feature -Xclang "$2" \
		-nocudainc -nocudalib -include "$here/prelude.h" -O3 -ffp-contract=off -std=c++17 \
		-Wall -Werror -S -o "$4" "$3"
}
compile sm_90a +ptx80 "$here/module.cu" "$out/glmflow.sm_90a.ptx"
compile sm_80 +ptx70 "$here/module.cu" "$out/glmflow.sm_80.ptx"
