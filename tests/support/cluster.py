"""A worker node (`fluxserve worker`) in a child process, beside an API node, for tests that
run the two on one PostgreSQL job store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def start_worker(
    data_dir: Path, config: Path, database_url: str, public_url: str, models: str
) -> subprocess.Popen[bytes]:
    """`fluxserve worker --models <models>`; its log goes to `data_dir/worker.log`."""
    return subprocess.Popen(
        [
            sys.executable, "-m", "fluxserve", "worker", "--models", models,
            "--data-dir", str(data_dir), "--config", str(config),
            "--database-url", database_url, "--public-url", public_url,
        ],
        stdout=subprocess.DEVNULL,
        stderr=(data_dir / "worker.log").open("wb"),
    )  # fmt: skip
