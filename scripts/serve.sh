#!/usr/bin/env bash
# Install fluxserve (first run only takes long) and start it on http://127.0.0.1:8000.
# Any `fluxserve serve` option may follow, e.g. scripts/serve.sh --port 9000.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
. .venv/bin/activate
exec fluxserve serve "$@"
