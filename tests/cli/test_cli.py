"""The CLI forms the README promises, run as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fluxserve.catalog import API_MODELS
from tests.support.servers import create_key, run_cli


def test_keys_and_wallet_round_trip(tmp_path: Path) -> None:
    key = create_key(tmp_path, credit="2.50", name="alice")
    assert key.startswith("fs_")
    assert "balance $2.50" in run_cli("wallet", "show", key, data_dir=tmp_path)
    assert "balance $3.75" in run_cli("wallet", "topup", key, "1.25", data_dir=tmp_path)
    shown = run_cli("wallet", "show", key, data_dir=tmp_path)
    assert "balance $3.75" in shown and "topup" in shown
    assert "disabled" in run_cli("keys", "disable", key, data_dir=tmp_path)


def test_data_dir_from_environment(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fluxserve", "keys", "create", "--credit", "1"],
        capture_output=True,
        text=True,
        env={"FLUXSERVE_DATA_DIR": str(tmp_path / "env-data"), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "env-data" / "fluxserve.db").exists()


def test_bad_amounts_and_unknown_keys_fail_cleanly(tmp_path: Path) -> None:
    key = create_key(tmp_path)
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "fluxserve",
            "wallet",
            "topup",
            key,
            "abc",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1 and "error" in bad.stderr
    unknown = subprocess.run(
        [
            sys.executable,
            "-m",
            "fluxserve",
            "wallet",
            "show",
            "fs_nope",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert unknown.returncode == 1 and "error" in unknown.stderr


def test_models_lists_the_catalog_with_demo_weights(tmp_path: Path) -> None:
    out = run_cli("models", data_dir=tmp_path)
    for model_id in API_MODELS:
        assert model_id in out
    assert "FluxFillPipeline" in out and "demo" in out and "$0.025" in out


def test_models_pull_says_plainly_when_there_is_no_network(tmp_path: Path) -> None:
    config = tmp_path / "fluxserve.toml"
    config.write_text('[models.flux1-schnell]\nweights = "black-forest-labs/FLUX.1-schnell"\n')
    result = subprocess.run(
        [sys.executable, "-m", "fluxserve", "models", "pull", "--config", str(config),
         "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    assert result.returncode == 1
    assert "FAIL flux1-schnell" in result.stdout and "no network" in result.stdout


def test_models_pull_with_nothing_to_pull(tmp_path: Path) -> None:
    assert "nothing to pull" in run_cli("models", "pull", data_dir=tmp_path)
