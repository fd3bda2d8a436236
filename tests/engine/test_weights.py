"""Where each engine model's weights come from, and why a model is disabled."""

from __future__ import annotations

from pathlib import Path

from fluxserve.engine.loading.families import share_key
from fluxserve.engine.loading.weights import resolve_weights
from fluxserve.settings import ModelConfig, Settings


def _settings(tmp_path: Path, **models: ModelConfig) -> Settings:
    return Settings(data_dir=tmp_path, models=models)


def test_unconfigured_model_serves_demo_weights(tmp_path: Path) -> None:
    source = resolve_weights(_settings(tmp_path), "flux1-dev")
    assert (source.kind, source.location, source.demo) == ("demo", "demo", True)
    assert source.disabled_reason is None


def test_missing_local_folder_disables_the_model(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    settings = _settings(tmp_path, **{"flux1-dev": ModelConfig(weights=str(missing))})
    source = resolve_weights(settings, "flux1-dev")
    assert source.kind == "local"
    assert source.disabled_reason == f"weights folder {missing} does not exist"


def test_folder_without_model_index_disables_the_model(tmp_path: Path) -> None:
    folder = tmp_path / "weights"
    folder.mkdir()
    settings = _settings(tmp_path, **{"flux2-dev": ModelConfig(weights=str(folder))})
    reason = resolve_weights(settings, "flux2-dev").disabled_reason
    assert reason is not None and "no model_index.json" in reason


def test_diffusers_folder_is_a_local_source(tmp_path: Path) -> None:
    (tmp_path / "model_index.json").write_text("{}")
    settings = _settings(tmp_path, **{"flux1-dev": ModelConfig(weights=str(tmp_path))})
    source = resolve_weights(settings, "flux1-dev")
    assert (source.kind, source.location, source.disabled_reason) == (
        "local",
        str(tmp_path),
        None,
    )


def test_hub_id_keeps_its_revision(tmp_path: Path) -> None:
    config = ModelConfig(weights="black-forest-labs/FLUX.1-dev", revision="abc123")
    source = resolve_weights(_settings(tmp_path, **{"flux1-dev": config}), "flux1-dev")
    assert (source.kind, source.location, source.revision) == (
        "hub",
        "black-forest-labs/FLUX.1-dev",
        "abc123",
    )


def test_relative_path_that_looks_like_a_path_is_local(tmp_path: Path) -> None:
    settings = _settings(tmp_path, **{"flux1-dev": ModelConfig(weights="./models/dev")})
    source = resolve_weights(settings, "flux1-dev")
    assert source.kind == "local"
    assert source.disabled_reason is not None


def test_disabled_in_configuration(tmp_path: Path) -> None:
    settings = _settings(tmp_path, **{"flux1-dev": ModelConfig(enabled=False)})
    assert resolve_weights(settings, "flux1-dev").disabled_reason == "disabled in configuration"


def test_share_keys_match_within_a_family_only(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        **{"flux1-fill-dev": ModelConfig(weights="black-forest-labs/FLUX.1-Fill-dev")},
    )

    def key(model: str) -> object:
        return share_key(resolve_weights(settings, model), "cpu", "float32")

    assert key("flux1-schnell") == key("flux1-dev") is not None
    assert key("flux2-klein-4b") == key("flux2-klein-base-4b") != key("flux1-dev")
    assert key("flux1-fill-dev") != key("flux1-dev")  # stock hub weights vs demo weights
    assert key("flux2-dev") is None  # nothing to share in its family
    source = resolve_weights(settings, "flux1-dev")
    assert share_key(source, "cpu", "float32") != share_key(source, "cpu", "bfloat16")


def test_local_folders_share_when_encoder_configs_match(tmp_path: Path) -> None:
    models = ("flux1-schnell", "flux1-dev", "flux1-fill-dev")
    folders = []
    for name, vae_config in (("a", "{}"), ("b", "{}"), ("c", '{"x": 1}')):
        folder = tmp_path / name
        (folder / "vae").mkdir(parents=True)
        (folder / "model_index.json").write_text("{}")
        (folder / "vae" / "config.json").write_text(vae_config)
        folders.append(folder)
    settings = _settings(
        tmp_path,
        **{
            model: ModelConfig(weights=str(folder))
            for model, folder in zip(models, folders, strict=True)
        },
    )

    def key(model: str) -> object:
        return share_key(resolve_weights(settings, model), "cpu", "float32")

    assert key("flux1-schnell") == key("flux1-dev") != key("flux1-fill-dev")
