"""LoRA training on the tiny klein base demo pipeline: it learns, it saves a LoRA that loads
elsewhere, it resumes exactly, it is deterministic, and it leaves the pipeline as it found it."""

from __future__ import annotations

import dataclasses
import io
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from diffusers import Flux2KleinPipeline
from peft.tuners.tuners_utils import BaseTunerLayer
from PIL import Image
from safetensors.torch import load_file

from fluxserve.engine.boundary.messages import Progress, TrainResult, TrainTask
from fluxserve.engine.pipelines import Pipeline
from fluxserve.engine.training.checkpoint import CHECKPOINT_NAME
from fluxserve.engine.training.examples import prompt_for
from fluxserve.engine.training.loop import train_lora
from fluxserve.errors import Cancelled, InvalidRequest

ENGINE_MODEL = "flux2-klein-base-4b"


class Crash(Exception):
    """Stands in for a worker dying in the middle of a training."""


@pytest.fixture
def demo_folder(demo_models: dict[str, Path]) -> Path:
    return demo_models[ENGINE_MODEL]


def load(folder: Path) -> Pipeline:
    pipeline_class: Any = Flux2KleinPipeline  # diffusers leaves from_pretrained untyped
    pipeline = pipeline_class.from_pretrained(folder)
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


@pytest.fixture
def pipe(demo_folder: Path) -> Pipeline:
    return load(demo_folder)


def png(seed: int) -> bytes:
    """A 64x64 picture of coloured 8x8 blocks."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(blocks.repeat(8, axis=0).repeat(8, axis=1)).save(out, format="PNG")
    return out.getvalue()


def make_task(tmp_path: Path, name: str = "run", **changes: Any) -> TrainTask:
    task = TrainTask(
        engine_model=ENGINE_MODEL,
        images=(png(1), png(2)),
        captions=("a red cat", None),
        trigger="sks style",
        steps=30,
        learning_rate=1e-2,
        rank=16,
        seed=0,
        work_dir=str(tmp_path / name / "checkpoints"),
        output_path=str(tmp_path / name / "lora.safetensors"),
        resolution=64,
        checkpoint_every=10,
    )
    return dataclasses.replace(task, **changes)


def generate(pipe: Pipeline) -> np.ndarray:
    # As the engine's runner calls pipelines: training must still work on them afterwards.
    with torch.inference_mode():
        images = pipe(
            prompt="sks style, a red cat",
            height=64,
            width=64,
            num_inference_steps=2,
            guidance_scale=4.0,
            generator=torch.Generator().manual_seed(7),
            output_type="np",
        ).images
    return np.asarray(images)


def record(steps: list[Progress], crash_at: int | None = None) -> Callable[[Progress], None]:
    def progress(update: Progress) -> None:
        steps.append(update)
        if update.step == crash_at:
            raise Crash(f"killed at step {update.step}")

    return progress


def lora_tensors(result: TrainResult) -> dict[str, torch.Tensor]:
    return load_file(result.lora_path)


def same_tensors(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def assert_clean(pipe: Pipeline) -> None:
    transformer = pipe.transformer
    assert not getattr(transformer, "peft_config", None)
    assert not any(isinstance(m, BaseTunerLayer) for m in transformer.modules())
    assert not transformer.training


def test_loss_falls_and_progress_reports_every_step(pipe: Pipeline, tmp_path: Path) -> None:
    steps: list[Progress] = []
    result = train_lora(pipe, make_task(tmp_path), record(steps))

    losses = result.metadata["loss_curve"]
    assert len(losses) == 30
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    assert [p.step for p in steps] == list(range(1, 31))
    assert all(p.total == 30 for p in steps)
    assert [p.loss for p in steps] == losses
    assert result.lora_path == str(tmp_path / "run" / "lora.safetensors")
    assert result.metadata | {"loss_curve": None} == {
        "base_model": ENGINE_MODEL,
        "steps": 30,
        "rank": 16,
        "learning_rate": 1e-2,
        "trigger": "sks style",
        "loss_curve": None,
        "captioned": True,
        "resumed_from_step": 0,
        "images": 2,
        "resolution": 64,
        "seed": 0,
    }


def test_lora_reaches_both_block_kinds_and_changes_a_fresh_pipeline(
    pipe: Pipeline, demo_folder: Path, tmp_path: Path
) -> None:
    result = train_lora(pipe, make_task(tmp_path, steps=10))
    keys = lora_tensors(result).keys()
    for layer in ("attn.to_q", "attn.add_k_proj", "attn.to_qkv_mlp_proj", "0.attn.to_out"):
        assert any(f"{layer}.lora_A" in key for key in keys), layer
    assert all(key.startswith("transformer.") for key in keys)

    fresh = load(demo_folder)
    without = generate(fresh)
    fresh.load_lora_weights(result.lora_path, adapter_name="trained")
    with_lora = generate(fresh)
    assert not np.allclose(without, with_lora, atol=1e-3)
    fresh.unload_lora_weights()
    assert np.array_equal(generate(fresh), without)


def test_generation_is_identical_before_and_after_training(pipe: Pipeline, tmp_path: Path) -> None:
    flags = [p.requires_grad for p in pipe.transformer.parameters()]
    before = generate(pipe)
    train_lora(pipe, make_task(tmp_path, steps=5))
    assert np.array_equal(generate(pipe), before)
    assert_clean(pipe)
    assert [p.requires_grad for p in pipe.transformer.parameters()] == flags


def test_loaded_disabled_adapters_survive_a_training(pipe: Pipeline, tmp_path: Path) -> None:
    # Generation keeps LoRAs loaded but disabled between calls; training must not disturb them.
    other = train_lora(pipe, make_task(tmp_path, "other", steps=5, seed=3))
    pipe.load_lora_weights(other.lora_path, adapter_name="other")
    pipe.disable_lora()
    plain = generate(pipe)
    pipe.enable_lora()
    styled = generate(pipe)
    pipe.disable_lora()

    train_lora(pipe, make_task(tmp_path, steps=5))

    assert pipe.get_list_adapters() == {"transformer": ["other"]}
    assert np.array_equal(generate(pipe), plain)
    pipe.enable_lora()
    assert np.array_equal(generate(pipe), styled)


def test_crash_then_resume_continues_the_step_count_exactly(pipe: Pipeline, tmp_path: Path) -> None:
    task = make_task(tmp_path)
    first: list[Progress] = []
    with pytest.raises(Crash):
        train_lora(pipe, task, record(first, crash_at=15))
    assert [p.step for p in first] == list(range(1, 16))
    assert (Path(task.work_dir) / CHECKPOINT_NAME).is_file()
    assert not Path(task.output_path).exists()
    assert_clean(pipe)

    second: list[Progress] = []
    resumed = train_lora(pipe, task, record(second))
    assert second[0].step == 11
    assert second[-1].step == 30
    assert len(second) == 20
    assert resumed.metadata["resumed_from_step"] == 10
    assert len(resumed.metadata["loss_curve"]) == 30

    # Resuming is exact: the same curve and weights as a run that never stopped.
    straight = train_lora(pipe, make_task(tmp_path, "straight"))
    assert resumed.metadata["loss_curve"] == straight.metadata["loss_curve"]
    assert same_tensors(lora_tensors(resumed), lora_tensors(straight))


def test_a_cancelled_training_stops_at_its_next_step_and_keeps_a_checkpoint(
    pipe: Pipeline, tmp_path: Path
) -> None:
    task = make_task(tmp_path)
    stop = threading.Event()
    seen: list[Progress] = []

    def progress(update: Progress) -> None:
        seen.append(update)
        if update.step == 13:
            stop.set()  # the job was cancelled while step 13 ran

    with pytest.raises(Cancelled, match="after step 13 of 30"):
        train_lora(pipe, task, progress, stop)
    assert [p.step for p in seen] == list(range(1, 14))
    assert not Path(task.output_path).exists()
    assert_clean(pipe)
    # The checkpoint holds all 13 steps, not only the last periodic one (10).
    resumed: list[Progress] = []
    train_lora(pipe, task, record(resumed))
    assert resumed[0].step == 14


def test_same_seed_same_lora_other_seed_other_lora(pipe: Pipeline, tmp_path: Path) -> None:
    a = train_lora(pipe, make_task(tmp_path, "a", steps=8))
    b = train_lora(pipe, make_task(tmp_path, "b", steps=8))
    c = train_lora(pipe, make_task(tmp_path, "c", steps=8, seed=1))
    assert a.metadata["loss_curve"] == b.metadata["loss_curve"]
    assert same_tensors(lora_tensors(a), lora_tensors(b))
    assert a.metadata["loss_curve"] != c.metadata["loss_curve"]
    assert not same_tensors(lora_tensors(a), lora_tensors(c))


def test_checkpoint_of_another_training_is_not_resumed(pipe: Pipeline, tmp_path: Path) -> None:
    train_lora(pipe, make_task(tmp_path, steps=10))
    steps: list[Progress] = []
    other = train_lora(pipe, make_task(tmp_path, steps=12, seed=5), record(steps))
    assert other.metadata["resumed_from_step"] == 0
    assert steps[0].step == 1


def test_only_the_outputs_are_left_in_the_folders(pipe: Pipeline, tmp_path: Path) -> None:
    task = make_task(tmp_path, steps=12, checkpoint_every=5)
    train_lora(pipe, task)
    assert sorted(p.name for p in Path(task.work_dir).iterdir()) == [CHECKPOINT_NAME]
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        "checkpoints",
        "lora.safetensors",
    ]


def test_uncaptioned_dataset_trains_on_the_trigger(pipe: Pipeline, tmp_path: Path) -> None:
    result = train_lora(pipe, make_task(tmp_path, images=(png(4),), captions=(None,), steps=3))
    assert result.metadata["captioned"] is False
    assert Path(result.lora_path).stat().st_size > 0


def test_prompts_put_the_trigger_first() -> None:
    assert prompt_for("sks style", "a red cat") == "sks style a red cat"
    assert prompt_for("sks style", None) == "sks style"
    assert prompt_for("", " a dog ") == "a dog"


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"steps": 0}, "at least 1 step"),
        ({"rank": 0}, "rank"),
        ({"learning_rate": float("nan")}, "learning_rate"),
        ({"captions": ("one",)}, "2 images but 1 captions"),
        ({"images": ()}, "at least one image"),
        ({"images": (png(1), b"not an image")}, "training image 2"),
    ],
)
def test_bad_tasks_are_refused_and_leave_the_pipeline_clean(
    pipe: Pipeline, tmp_path: Path, changes: dict[str, Any], words: str
) -> None:
    if changes.get("images") == ():
        changes["captions"] = ()
    with pytest.raises(InvalidRequest, match=words):
        train_lora(pipe, make_task(tmp_path, **changes))
    assert_clean(pipe)
