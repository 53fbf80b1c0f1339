#!/usr/bin/env bash
# The fps benchmark as it matters on one CUDA GPU, in under 5 minutes; installs nothing.
#
#   bash benchmarks/gpu_check.sh [more fps.py options]
#
# 1080p H.264 and HEVC, 10 s each; bf16 autocast, 256 frames per model call,
# every frame scored; every installed decoder (pyav, and decord / torchcodec
# where present) for both models. No memory check (a CPU matter, see fps.py
# --quick). Prints the results table; the files land in benchmarks/results-gpu/.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "gpu_check: no usable CUDA device (torch.cuda.is_available() is False); nothing measured" >&2
    exit 1
fi

backends=$(python -c 'import vidaesthetic as va; print(",".join(va.available_backends()))')
exec python benchmarks/fps.py \
    --device cuda --precisions bf16 --batch-size 256 --model-sample-fps 0 \
    --clips 1080p,1080p-hevc --duration 10 --repeats 2 \
    --backends "$backends" --model-backends "$backends" \
    --no-memory --out benchmarks/results-gpu "$@"
