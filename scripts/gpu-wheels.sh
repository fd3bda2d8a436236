#!/usr/bin/env bash
# Wheels for running scripts/gpu-check.sh on a GPU machine that has Python 3.12, CUDA torch,
# transformers, accelerate and peft but no network and not the rest of fluxserve's engine needs.
# Run here (with network); carry the .whl folder there; gpu-check.sh installs it when present:
#   scripts/gpu-wheels.sh            # -> .whl/ (git-ignored, ~12 MB)
#   # there: scripts/gpu-check.sh OUT_DIR   (with .whl carried along)
# Versions are the ones fluxserve is tested with. PYTHON_VERSION picks the target's Python.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
packages=(
  diffusers==0.42.1 importlib-metadata==8.7.0
  pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5
  torchao==0.18.0
)
platforms=()
for n in 17 24 27 28 31 34; do platforms+=(--platform "manylinux_2_${n}_x86_64"); done
python3 -m pip download --quiet --no-deps --only-binary=:all: \
  --python-version "${PYTHON_VERSION:-3.12}" --implementation cp \
  "${platforms[@]}" --platform manylinux2014_x86_64 -d .whl "${packages[@]}"
ls -la .whl
