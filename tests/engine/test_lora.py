"""LoRAs apply to the request that names them and leave nothing behind."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import diffusers
import pytest
import torch
from peft import LoraConfig
from peft.utils import get_peft_model_state_dict

from fluxserve.catalog import ENGINE_MODELS
from fluxserve.engine.boundary.messages import LoraRef
from fluxserve.engine.demo import ensure_demo_model
from fluxserve.engine.inference.local_engine import LocalEngine
from fluxserve.errors import InvalidRequest
from tests.engine.fixtures_local_engine import input_png, local_engine, make_task, max_difference

__all__ = ["local_engine"]

# Klein's single-stream blocks use a fused projection and a plain `to_out`: target them too.
TARGETS: dict[str, list[str] | str] = {
    "flux1-dev": ["to_q", "to_k", "to_v", "to_out.0"],
    "flux2-klein-4b": (
        r".*(attn\.(to_q|to_k|to_v|to_out\.0|to_qkv_mlp_proj)"
        r"|single_transformer_blocks\.\d+\.attn\.to_out)$"
    ),
}
CASES = [("flux1-dev", "dev-a"), ("flux2-klein-4b", "klein")]


def _make_lora(demo_cache: Path, engine_model: str, path: Path, seed: int) -> LoraRef:
    """A LoRA of random, non-zero weights on the demo transformer, saved in diffusers format."""
    pipeline_class = getattr(diffusers, ENGINE_MODELS[engine_model].pipeline)
    pipe = pipeline_class.from_pretrained(ensure_demo_model(engine_model, demo_cache))
    torch.manual_seed(seed)
    config = LoraConfig(r=4, lora_alpha=4, target_modules=TARGETS[engine_model])
    config.init_lora_weights = False  # random lora_B, so the adapter changes the output
    pipe.transformer.add_adapter(config)
    path.mkdir(parents=True)
    pipeline_class.save_lora_weights(
        path, transformer_lora_layers=get_peft_model_state_dict(pipe.transformer)
    )
    return LoraRef(name=f"style-{seed}", path=str(path / "pytorch_lora_weights.safetensors"))


@pytest.fixture(scope="module")
def loras(tmp_path_factory: pytest.TempPathFactory, demo_cache: Path) -> dict[str, LoraRef]:
    root = tmp_path_factory.mktemp("loras")
    return {
        "dev-a": _make_lora(demo_cache, "flux1-dev", root / "dev-a", 1),
        "dev-b": _make_lora(demo_cache, "flux1-dev", root / "dev-b", 2),
        "klein": _make_lora(demo_cache, "flux2-klein-4b", root / "klein", 3),
    }


@pytest.mark.parametrize(
    ("engine_model", "lora"), [("flux1-dev", "dev-a"), ("flux2-klein-4b", "klein")]
)
def test_lora_applies_then_leaves_no_trace(
    local_engine: LocalEngine, loras: dict[str, LoraRef], engine_model: str, lora: str
) -> None:
    task = make_task(engine_model, seeds=(5,))
    before = local_engine.generate(task)[0]
    styled = local_engine.generate(dataclasses.replace(task, loras=(loras[lora],)))[0]
    after = local_engine.generate(task)[0]
    assert max_difference(styled, before) > 0
    assert max_difference(after, before) == 0


def test_scales_and_combinations(local_engine: LocalEngine, loras: dict[str, LoraRef]) -> None:
    task = make_task("flux1-dev", seeds=(6,))
    plain = local_engine.generate(task)[0]
    a, b = loras["dev-a"], loras["dev-b"]

    def run(*refs: LoraRef) -> float:
        image = local_engine.generate(dataclasses.replace(task, loras=refs))[0]
        return max_difference(image, plain)

    assert run(dataclasses.replace(a, scale=0.0)) == 0
    one, double, both = run(a), run(dataclasses.replace(a, scale=2.0)), run(a, b)
    assert one > 0 and one != double and both != one
    assert max_difference(local_engine.generate(task)[0], plain) == 0


def test_adapters_are_loaded_once(local_engine: LocalEngine, loras: dict[str, LoraRef]) -> None:
    task = make_task("flux1-dev", loras=(loras["dev-b"],))
    first = local_engine.generate(task)[0]
    held = local_engine.loaded_model("flux1-dev").adapters.loaded()
    again = local_engine.generate(task)[0]
    assert local_engine.loaded_model("flux1-dev").adapters.loaded() == held
    assert "style-2" in held
    assert max_difference(first, again) == 0


def test_lora_on_img2img_shares_the_dev_adapters(
    local_engine: LocalEngine, loras: dict[str, LoraRef]
) -> None:
    task = make_task("flux1-dev", operation="image_to_image", image=input_png(), strength=0.7)
    before = local_engine.generate(task)[0]
    styled = local_engine.generate(dataclasses.replace(task, loras=(loras["dev-a"],)))[0]
    assert max_difference(styled, before) > 0
    assert max_difference(local_engine.generate(task)[0], before) == 0


def test_batch_with_and_without_lora_stays_separate(
    local_engine: LocalEngine, loras: dict[str, LoraRef]
) -> None:
    plain_task = make_task("flux1-dev", seeds=(8,))
    alone = local_engine.generate(plain_task)[0]
    styled_task = dataclasses.replace(plain_task, loras=(loras["dev-a"],))
    styled, plain = local_engine.generate_many([styled_task, plain_task])
    assert max_difference(plain[0], alone) == 0
    assert max_difference(styled[0], alone) > 0


def test_missing_or_broken_lora_is_refused(local_engine: LocalEngine, tmp_path: Path) -> None:
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not safetensors")
    task = make_task("flux1-dev", seeds=(9,))
    before = local_engine.generate(task)[0]
    for path in (tmp_path / "missing.safetensors", broken):
        with pytest.raises(InvalidRequest, match="LoRA 'bad'"):
            local_engine.generate(dataclasses.replace(task, loras=(LoraRef("bad", str(path)),)))
    assert max_difference(local_engine.generate(task)[0], before) == 0
