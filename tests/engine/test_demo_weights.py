"""The tiny demo models: real diffusers folders that load and generate, deterministically."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from diffusers import (
    DiffusionPipeline,
    Flux2KleinPipeline,
    Flux2Pipeline,
    FluxFillPipeline,
    FluxImg2ImgPipeline,
    FluxKontextPipeline,
    FluxPipeline,
)
from PIL import Image
from safetensors.torch import load_file

from fluxserve.catalog import ENGINE_MODELS
from fluxserve.engine.demo import (
    BUILD_VERSION,
    DEMO_BUILDERS,
    build_demo_model,
    ensure_demo_model,
)
from fluxserve.engine.demo.cache import build_once
from fluxserve.errors import ModelNotFound

WIDTH, HEIGHT = 128, 64  # non-square on purpose
FLUX1_FAMILY = ("flux1-schnell", "flux1-dev", "flux1-fill-dev", "flux1-kontext-dev")
KLEIN_FAMILY = ("flux2-klein-4b", "flux2-klein-base-4b")


def _noise_image(seed: int, width: int = WIDTH, height: int = HEIGHT) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def _mask() -> Image.Image:
    mask = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    mask[16:48, 32:96] = 255
    return Image.fromarray(mask)


def _load(demo_models: dict[str, Path], engine_model_id: str) -> Any:
    cls = getattr(sys.modules["diffusers"], ENGINE_MODELS[engine_model_id].pipeline)
    return cls.from_pretrained(demo_models[engine_model_id])


def _pixels(pipe: Any, seed: int, steps: int = 2, **kwargs: Any) -> np.ndarray:
    image = pipe(
        num_inference_steps=steps,
        width=WIDTH,
        height=HEIGHT,
        generator=torch.Generator().manual_seed(seed),
        **kwargs,
    ).images[0]
    assert isinstance(image, Image.Image)
    assert image.size == (WIDTH, HEIGHT)
    return np.asarray(image)


# Per engine model: the text-to-image call the runtime makes (guidance passed as each class wants).
TEXT_TO_IMAGE: dict[str, dict[str, Any]] = {
    "flux1-schnell": {"guidance_scale": 0.0, "max_sequence_length": 256},
    "flux1-dev": {"guidance_scale": 3.5},
    "flux1-fill-dev": {"image": _noise_image(1), "mask_image": _mask(), "guidance_scale": 30.0},
    "flux1-kontext-dev": {
        "image": _noise_image(1),
        "max_area": WIDTH * HEIGHT,  # otherwise Kontext resizes its output towards 1024²
        "_auto_resize": False,  # otherwise the input goes to a preferred ~1 MP resolution
        "guidance_scale": 2.5,
    },
    "flux2-dev": {"guidance_scale": 4.0},
    "flux2-klein-4b": {"guidance_scale": 1.0},
    "flux2-klein-base-4b": {"guidance_scale": 4.0},
}


def test_every_engine_model_has_a_builder() -> None:
    assert set(DEMO_BUILDERS) == set(ENGINE_MODELS)
    assert set(TEXT_TO_IMAGE) == set(ENGINE_MODELS)


@pytest.mark.parametrize("engine_model_id", sorted(ENGINE_MODELS))
def test_folder_is_a_small_diffusers_pipeline(
    demo_models: dict[str, Path], engine_model_id: str
) -> None:
    folder = demo_models[engine_model_id]
    assert folder == folder.parent.parent / engine_model_id / BUILD_VERSION
    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == ENGINE_MODELS[engine_model_id].pipeline
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    assert size < 3_000_000


@pytest.mark.parametrize("engine_model_id", sorted(ENGINE_MODELS))
def test_same_seed_same_pixels_other_seed_other_pixels(
    demo_models: dict[str, Path], engine_model_id: str
) -> None:
    pipe = _load(demo_models, engine_model_id)
    kwargs = TEXT_TO_IMAGE[engine_model_id]
    first = _pixels(pipe, 7, prompt="a red fox in the snow", **kwargs)
    again = _pixels(pipe, 7, prompt="a red fox in the snow", **kwargs)
    other = _pixels(pipe, 8, prompt="a red fox in the snow", **kwargs)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    assert first.std() > 1.0  # a real picture of noise, not a flat colour


def test_prompt_changes_the_image(demo_models: dict[str, Path]) -> None:
    pipe = _load(demo_models, "flux1-dev")
    cat = _pixels(pipe, 0, prompt="a cat", guidance_scale=3.5)
    dog = _pixels(pipe, 0, prompt="a dog", guidance_scale=3.5)
    assert not np.array_equal(cat, dog)


def test_flux1_dev_serves_img2img_through_from_pipe(demo_models: dict[str, Path]) -> None:
    dev = FluxPipeline.from_pretrained(demo_models["flux1-dev"])
    img2img = FluxImg2ImgPipeline.from_pipe(dev)
    # strength 0.5 of 4 steps runs 2 steps from a half-noised input, so the input counts.
    common: dict[str, Any] = {"prompt": "a cat", "strength": 0.5, "guidance_scale": 3.5}
    a = _pixels(img2img, 0, steps=4, image=_noise_image(1), **common)
    b = _pixels(img2img, 0, steps=4, image=_noise_image(2), **common)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize(
    ("engine_model_id", "pipeline_cls", "as_list"),
    [
        ("flux1-fill-dev", FluxFillPipeline, False),
        ("flux1-kontext-dev", FluxKontextPipeline, False),
        ("flux2-dev", Flux2Pipeline, True),
        ("flux2-klein-4b", Flux2KleinPipeline, False),
        ("flux2-klein-base-4b", Flux2KleinPipeline, False),
    ],
)
def test_input_image_changes_the_result(
    demo_models: dict[str, Path],
    engine_model_id: str,
    pipeline_cls: type[DiffusionPipeline],
    as_list: bool,
) -> None:
    pipe = pipeline_cls.from_pretrained(demo_models[engine_model_id])
    kwargs = dict(TEXT_TO_IMAGE[engine_model_id])

    def run(image: Image.Image) -> np.ndarray:
        kwargs["image"] = [image] if as_list else image
        return _pixels(pipe, 0, prompt="make it blue", **kwargs)

    assert not np.array_equal(run(_noise_image(1)), run(_noise_image(2)))


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(f.relative_to(folder)): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(folder.rglob("*"))
        if f.is_file()
    }


def test_builds_are_byte_identical_across_processes(
    demo_models: dict[str, Path], tmp_path: Path
) -> None:
    script = (
        "import sys, pathlib\n"
        "from fluxserve.engine.demo import build_demo_model, DEMO_BUILDERS\n"
        "for m in DEMO_BUILDERS: build_demo_model(m, pathlib.Path(sys.argv[1]) / m)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True, timeout=120)
    for engine_model_id, folder in demo_models.items():
        here, there = _hashes(folder), _hashes(tmp_path / engine_model_id)
        assert any(name.endswith(".safetensors") for name in here)
        assert any(name.endswith("tokenizer.json") for name in here)
        assert here == there, engine_model_id


def _weights(folder: Path, component: str) -> dict[str, torch.Tensor]:
    (file,) = (folder / component).glob("*.safetensors")
    return load_file(file)


def _same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    ("family", "shared"),
    [
        (FLUX1_FAMILY, ("text_encoder", "text_encoder_2", "vae")),
        (KLEIN_FAMILY, ("text_encoder", "vae")),
    ],
)
def test_family_shares_text_encoders_and_vae_but_not_transformers(
    demo_models: dict[str, Path], family: tuple[str, ...], shared: tuple[str, ...]
) -> None:
    first, *others = (demo_models[m] for m in family)
    for other in others:
        for component in shared:
            assert _same_weights(_weights(first, component), _weights(other, component))
        for tokenizer in (
            ("tokenizer", "tokenizer_2") if "text_encoder_2" in shared else ("tokenizer",)
        ):
            assert _hashes(first / tokenizer) == _hashes(other / tokenizer)
        assert not _same_weights(_weights(first, "transformer"), _weights(other, "transformer"))


def test_family_variants_match_the_real_configs(demo_models: dict[str, Path]) -> None:
    def config(model: str, component: str) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(
            (demo_models[model] / component / "config.json").read_text()
        )
        return loaded

    assert config("flux1-schnell", "transformer")["guidance_embeds"] is False
    assert config("flux1-dev", "transformer")["guidance_embeds"] is True
    assert config("flux1-kontext-dev", "transformer")["guidance_embeds"] is True
    fill = config("flux1-fill-dev", "transformer")
    assert (fill["in_channels"], fill["out_channels"], fill["guidance_embeds"]) == (384, 64, True)
    assert config("flux1-dev", "vae")["block_out_channels"].__len__() == 4  # scale factor 8
    index = {m: json.loads((demo_models[m] / "model_index.json").read_text()) for m in KLEIN_FAMILY}
    assert index["flux2-klein-4b"]["is_distilled"] is True
    assert index["flux2-klein-base-4b"]["is_distilled"] is False


def test_ensure_builds_once_and_then_reuses_the_folder(tmp_path: Path) -> None:
    folder = ensure_demo_model("flux1-schnell", tmp_path)
    assert folder == tmp_path / "flux1-schnell" / BUILD_VERSION
    stamp = (folder / "model_index.json").stat().st_mtime_ns
    assert ensure_demo_model("flux1-schnell", tmp_path) == folder
    assert (folder / "model_index.json").stat().st_mtime_ns == stamp
    assert [p.name for p in folder.parent.iterdir()] == [BUILD_VERSION]  # no scratch left


def test_unknown_engine_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound):
        build_demo_model("flux3-ultra", tmp_path / "x")
    with pytest.raises(ModelNotFound):
        ensure_demo_model("flux3-ultra", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_racing_builds_leave_one_complete_folder(tmp_path: Path) -> None:
    dest = tmp_path / "model" / "1"
    both_inside = threading.Barrier(2)

    def slow_build(tag: str) -> Callable[[Path], None]:
        def build(folder: Path) -> None:
            folder.mkdir()
            (folder / "part1").write_text(tag)
            both_inside.wait(timeout=10)  # both builders are half-way before either finishes
            (folder / "part2").write_text(tag)

        return build

    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda t=tag: results.append(build_once(dest, slow_build(t))))
        for tag in ("a", "b")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert results == [dest, dest]
    assert (dest / "part1").read_text() == (dest / "part2").read_text()  # one builder's folder
    assert [p.name for p in dest.parent.iterdir()] == ["1"]
