#!/usr/bin/env bash
# Install fluxserve with its test tools, then run the linters, the type checker and the tests.
# Extra arguments go to pytest, e.g. scripts/test.sh tests/api -x.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh dev
. .venv/bin/activate
ruff check src tests
ruff format --check src tests
mypy src
python -m pytest "$@"
