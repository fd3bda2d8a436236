#!/usr/bin/env bash
# The GPU check of issue #13 in one command: the real FLUX architectures with random weights
# (no download) through the engine's own call path, every setting of bench/random_plan.py,
# planned to fit 10 minutes on one H100/H200 compile included (not yet timed on a GPU).
# Writes OUT_DIR/results.md, results.json and environment.txt.
#
#   scripts/gpu-check.sh OUT_DIR            # full size, needs CUDA (and torchao for fp8 rows:
#                                           #   scripts/install.sh gpu)
#   scripts/gpu-check.sh OUT_DIR --tiny     # the same path with tiny models, on a CPU
#
# Extra arguments go to bench/gpu_models.py (e.g. --models flux1-dev --settings compile).
# On a machine without .venv and without network: scripts/gpu-wheels.sh here, carry .whl there.
# Fails (non-zero) on any error: no CUDA (2), a failed row (1), the plan outrunning its time
# budget (4), or the whole run passing the hard limit below (124).
set -euo pipefail
if [ $# -lt 1 ] || [[ "$1" == -* ]]; then
  echo "usage: scripts/gpu-check.sh OUT_DIR [--tiny] [bench/gpu_models.py options]" >&2
  exit 64
fi
mkdir -p "$1"
out="$(cd "$1" && pwd)"  # absolute: the script works from the repository root
shift
cd "$(dirname "$0")/.."
python=python3
if [ -x .venv/bin/python ]; then
  python=.venv/bin/python
elif [ -d .whl ]; then
  # A bare GPU machine (no network): the engine's missing packages come as wheels made by
  # scripts/gpu-wheels.sh, and fluxserve itself from src/.
  "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/fluxserve-site .whl/*.whl
  export PYTHONPATH="$PWD/src:/tmp/fluxserve-site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONUNBUFFERED=1
mode="--random-full-size"
for arg in "$@"; do
  if [ "$arg" = "--tiny" ]; then mode=""; fi
done
# Compiled kernels are cached here (not in OUT_DIR: thousands of small files), so a rerun on the
# same machine compiles less.
export TORCHINDUCTOR_CACHE_DIR="${TORCHINDUCTOR_CACHE_DIR:-/tmp/fluxserve-inductor-cache}"
"$python" - <<'PY' | tee "$out/environment.txt"
import platform, torch
print("python", platform.python_version(), "| torch", torch.__version__, "| cuda", torch.version.cuda)
if torch.cuda.is_available():
    print("gpu", torch.cuda.get_device_name(0), f"{torch.cuda.get_device_properties(0).total_memory / 2**30:.0f} GiB")
PY
# 10 minutes in all: the plan stops starting groups after --budget-s (default 540 s).
timeout --signal=INT --kill-after=20 "${GPU_CHECK_TIMEOUT_S:-590}" \
  "$python" bench/gpu_models.py $mode --out "$out" "$@"
