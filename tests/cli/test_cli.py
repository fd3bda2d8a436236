"""The CLI forms the README promises, run as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fluxserve.billing.keys import KeyStore
from fluxserve.catalog import API_MODELS
from fluxserve.db.database import Database
from fluxserve.jobs.store import JobStore
from tests.support.servers import create_key, run_cli


def test_keys_and_wallet_round_trip(tmp_path: Path) -> None:
    key = create_key(tmp_path, credit="2.50", name="alice")
    assert key.startswith("fs_")
    assert "balance $2.50" in run_cli("wallet", "show", key, data_dir=tmp_path)
    assert "balance $3.75" in run_cli("wallet", "topup", key, "1.25", data_dir=tmp_path)
    shown = run_cli("wallet", "show", key, data_dir=tmp_path)
    assert "balance $3.75" in shown and "topup" in shown
    secret = run_cli("keys", "rotate-webhook-secret", key, data_dir=tmp_path).strip()
    assert secret.startswith("whsec_")
    assert run_cli("keys", "rotate-webhook-secret", key, data_dir=tmp_path).strip() != secret
    assert "disabled" in run_cli("keys", "disable", key, data_dir=tmp_path)


def test_key_priority_is_set_at_creation_and_changed_later(tmp_path: Path) -> None:
    created = run_cli("keys", "create", "--priority", "-5", data_dir=tmp_path).splitlines()
    key_id, key = created[0].split()[2], created[-1]
    assert f"key {key_id} priority 10" in run_cli(
        "keys", "priority", key, "--priority", "10", data_dir=tmp_path
    )
    assert "priority -3" in run_cli(
        "keys", "priority", key_id, "--priority", "-3", data_dir=tmp_path
    )
    refused = subprocess.run(
        [sys.executable, "-m", "fluxserve", "keys", "priority", key_id, "--priority", "10000000",
         "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert refused.returncode == 1 and "priority" in refused.stderr


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


def test_wallet_show_prints_amounts_in_full(tmp_path: Path) -> None:
    """A $0.025 hold shows as $0.025 (it once printed as $0.00), whatever the terminal width."""
    key = create_key(tmp_path, credit="1", name="precise")
    db = Database.open(f"sqlite:///{tmp_path / 'fluxserve.db'}")
    try:
        key_id = KeyStore(db).resolve(key).id
        JobStore(db).create(
            request_id="flux-dev_held", model_id="flux-dev", key_id=key_id, spec={},
            price_micros=25_000,
        )  # fmt: skip
    finally:
        db.close()
    shown = run_cli("wallet", "show", key, data_dir=tmp_path, env={"COLUMNS": "40"})
    assert "balance $0.975" in shown and "held    $0.025" in shown
    [hold] = [line for line in shown.splitlines() if " hold " in line]
    assert "+$0.025" in hold and "flux-dev_held" in hold
