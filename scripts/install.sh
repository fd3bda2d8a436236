#!/usr/bin/env bash
# Create .venv (if missing) and install fluxserve into it. Usage: scripts/install.sh [extras]
# torch is installed first and pinned to 2.13.0 unless one is already there: on machines that
# keep a CPU wheel of it on disk pip takes that in seconds, elsewhere pip picks the platform's
# default build (CUDA on Linux x86_64).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
if ! python -c "import torch" 2>/dev/null; then
  python -m pip install --quiet "torch==2.13.0"
fi
if [ -n "$extras" ]; then
  python -m pip install --quiet -e ".[$extras]"
else
  python -m pip install --quiet -e .
fi
