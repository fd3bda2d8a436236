"""LoRAs on a compiled transformer: swapped into fixed slots, never a recompilation.

The compiled engine here compiles on the CPU (`compile_on_cpu`); its first call compiles the
two FLUX.1 block graphs (about half a minute on two cores), every later call reuses them."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import diffusers
import numpy as np
import pytest
import torch
from peft import LoraConfig
from peft.utils import get_peft_model_state_dict
from PIL import Image
from safetensors.torch import load_file, save_file
from torch._dynamo.utils import counters

from fluxserve.engine.boundary.messages import LoraRef
from fluxserve.engine.inference.local_engine import LocalEngine
from fluxserve.engine.lora.slots import LoraSlots, prepare_lora_slots, slot_names
from fluxserve.errors import InvalidRequest
from fluxserve.settings import EngineConfig
from tests.engine.fixtures_local_engine import make_settings, make_task, max_difference

MAX_RANK = 16
COMPILED = EngineConfig(
    compile_repeated_blocks=True, compile_on_cpu=True, lora_slots=2, lora_max_rank=MAX_RANK
)
ATTENTION = ["to_q", "to_k", "to_v", "to_out.0"]
FLUX: Any = diffusers.FluxPipeline  # untyped in diffusers


def _make_lora(folder: Path, path: Path, seed: int, rank: int, **config: Any) -> LoraRef:
    """A FLUX.1-dev LoRA of random, non-zero weights, saved in diffusers format."""
    pipe = FLUX.from_pretrained(folder)
    torch.manual_seed(seed)
    lora_config = LoraConfig(r=rank, lora_alpha=rank, target_modules=ATTENTION, **config)
    lora_config.init_lora_weights = False  # random lora_B, so the adapter changes the output
    pipe.transformer.add_adapter(lora_config)
    path.mkdir(parents=True)
    FLUX.save_lora_weights(
        path, transformer_lora_layers=get_peft_model_state_dict(pipe.transformer)
    )
    return LoraRef(name=path.name, path=str(path / "pytorch_lora_weights.safetensors"))


def _with_text_encoder_layer(lora: LoraRef, path: Path) -> LoraRef:
    state = load_file(lora.path)
    key = "text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_A.weight"
    state[key] = torch.ones(4, 32)
    save_file(state, path)
    return LoraRef(name="with-text-encoder", path=str(path))


@pytest.fixture(scope="module")
def loras(
    tmp_path_factory: pytest.TempPathFactory, demo_models: dict[str, Path]
) -> dict[str, LoraRef]:
    root, folder = tmp_path_factory.mktemp("loras"), demo_models["flux1-dev"]
    made = {
        "a": _make_lora(folder, root / "a", seed=1, rank=4),
        "b": _make_lora(folder, root / "b", seed=2, rank=8),
        "wide": _make_lora(folder, root / "wide", seed=3, rank=32),
        # No alphas in the file and two ranks: diffusers gives it a per-layer alpha pattern,
        # which a swap cannot change.
        "mixed": _make_lora(folder, root / "mixed", seed=4, rank=4, rank_pattern={"to_q": 8}),
    }
    made["text"] = _with_text_encoder_layer(made["a"], root / "text.safetensors")
    return made


@pytest.fixture(scope="module")
def compiled_engine(
    tmp_path_factory: pytest.TempPathFactory, demo_cache: Path
) -> Iterator[LocalEngine]:
    torch._dynamo.reset()
    engine = LocalEngine(
        make_settings(tmp_path_factory.mktemp("engine"), demo_cache, engine=COMPILED)
    )
    yield engine
    engine.close()
    torch._dynamo.reset()


def _graphs() -> int:
    return counters["stats"]["unique_graphs"]


def test_swapping_loras_never_recompiles(
    compiled_engine: LocalEngine, loras: dict[str, LoraRef]
) -> None:
    task = make_task("flux1-dev", seeds=(5,))
    before = _graphs()
    plain = compiled_engine.generate(task)[0]  # the warm-up compiles the blocks
    compiled = _graphs()
    assert compiled > before

    def run(*refs: LoraRef) -> Image.Image:
        return compiled_engine.generate(dataclasses.replace(task, loras=refs))[0]

    a, b = loras["a"], loras["b"]
    with torch._dynamo.config.patch(error_on_recompile=True):
        styled_a, styled_b, none, again = run(a), run(b), run(), run(a)
        both, half = run(a, b), run(dataclasses.replace(a, scale=0.5))
        zero = run(dataclasses.replace(b, scale=0.0))
    assert _graphs() == compiled
    assert max_difference(none, plain) == 0
    assert max_difference(zero, plain) == 0
    assert max_difference(again, styled_a) == 0
    assert min(max_difference(styled_a, plain), max_difference(styled_b, plain)) > 0
    assert max_difference(styled_a, styled_b) > 0
    assert min(max_difference(both, styled_a), max_difference(both, styled_b)) > 0
    assert min(max_difference(half, styled_a), max_difference(half, plain)) > 0
    # The slots hold the last LoRAs swapped in; nothing else was added to the transformer.
    loaded = compiled_engine.loaded_model("flux1-dev")
    assert loaded.adapters.loaded() == ["b", "b"]
    assert slot_names(loaded.pipe.transformer) == list(loaded.pipe.transformer.peft_config)


@pytest.mark.parametrize(
    ("picked", "match"),
    [
        (("wide",), r"rank 32 is above engine.lora_max_rank \(16\)"),
        (("a", "b", "a"), "at most 2 LoRA"),
        (("text",), "only transformer LoRA weights"),
    ],
    ids=["rank", "count", "text-encoder"],
)
def test_unservable_loras_are_refused_before_touching_the_slots(
    compiled_engine: LocalEngine, loras: dict[str, LoraRef], picked: tuple[str, ...], match: str
) -> None:
    task = make_task("flux1-dev", seeds=(6,))
    plain = compiled_engine.generate(task)[0]
    compiled = _graphs()
    with torch._dynamo.config.patch(error_on_recompile=True):
        refs = tuple(loras[name] for name in picked)
        with pytest.raises(InvalidRequest, match=match):
            compiled_engine.generate(dataclasses.replace(task, loras=refs))
        assert max_difference(compiled_engine.generate(task)[0], plain) == 0
    assert _graphs() == compiled


def test_missing_or_broken_lora_is_refused(compiled_engine: LocalEngine, tmp_path: Path) -> None:
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not safetensors")
    task = make_task("flux1-dev", seeds=(7,))
    plain = compiled_engine.generate(task)[0]
    for path in (tmp_path / "missing.safetensors", broken):
        with pytest.raises(InvalidRequest, match="LoRA 'bad'"):
            compiled_engine.generate(dataclasses.replace(task, loras=(LoraRef("bad", str(path)),)))
    assert max_difference(compiled_engine.generate(task)[0], plain) == 0


def _pixels(pipe: Any) -> np.ndarray:
    with torch.inference_mode():
        image = pipe(
            prompt="a red fox",
            width=64,
            height=64,
            num_inference_steps=2,
            generator=torch.Generator("cpu").manual_seed(3),
        ).images[0]
    return np.asarray(image, dtype=np.float64)


def test_swaps_in_place_and_rebuilds_a_slot_a_failed_swap_deleted(
    demo_models: dict[str, Path], loras: dict[str, LoraRef]
) -> None:
    # Eager (uncompiled) slots: what a swap does to the modules, and the repair after diffusers
    # deleted a slot whose swap it refused half-way.
    pipe = FLUX.from_pretrained(demo_models["flux1-dev"])
    pipe.set_progress_bar_config(disable=True)
    prepare_lora_slots(pipe.transformer, slots=1, max_rank=MAX_RANK)
    slots = LoraSlots(pipe)
    modules = [name for name, _ in pipe.transformer.named_modules()]
    plain = _pixels(pipe)
    with slots.applied((loras["a"],)):
        styled = _pixels(pipe)
    with slots.applied((loras["b"],)):
        assert np.abs(_pixels(pipe) - styled).max() > 0
    assert [name for name, _ in pipe.transformer.named_modules()] == modules
    refused = pytest.raises(InvalidRequest, match=r"could not be swapped in.*alpha_pattern")
    with refused, slots.applied((loras["mixed"],)):
        pass
    assert [name for name, _ in pipe.transformer.named_modules()] == modules
    assert slots.loaded() == []
    assert np.abs(_pixels(pipe) - plain).max() == 0
    with slots.applied((loras["a"],)):
        assert np.abs(_pixels(pipe) - styled).max() == 0
