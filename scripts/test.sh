#!/usr/bin/env bash
# Install fluxserve with its test tools, then run the linters, the type checker and the tests.
# Extra arguments go to pytest, e.g. scripts/test.sh tests/api -x.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh dev
. .venv/bin/activate
ruff check src tests
ruff format --check src tests
# The type checker runs beside the tests (one core's worth of work, in their shadow); its
# verdict is printed, and counts, once they end.
mypy_log="$(mktemp)"
mypy src >"$mypy_log" 2>&1 &
mypy_pid=$!
# Two test processes, one test file each at a time (a file's servers start once), the longest
# files first (tests/conftest.py). The slowest tests are listed.
tests_status=0
python -m pytest -n "${FLUXSERVE_TEST_PROCESSES:-2}" --dist loadfile --no-loadscope-reorder \
  --durations=25 "$@" || tests_status=$?
mypy_status=0
wait "$mypy_pid" || mypy_status=$?
echo "mypy src:"
cat "$mypy_log"
rm -f "$mypy_log"
if [ "$tests_status" -ne 0 ] || [ "$mypy_status" -ne 0 ]; then
  echo "FAILED: pytest exit $tests_status, mypy exit $mypy_status" >&2
  exit 1
fi
