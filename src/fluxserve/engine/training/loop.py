"""LoRA training on a FLUX.2 pipeline's transformer with the flow-matching objective.

Each step draws one example, a noise level sigma (logit-normal, as in SD3/FLUX training) and
Gaussian noise, builds `noisy = (1 - sigma) * x0 + sigma * noise`, and regresses the
transformer's prediction on the velocity `noise - x0` (mean squared error). AdamW updates the
LoRA weights only. All randomness comes from one generator seeded with `task.seed`, whose state
is checkpointed with the weights and the optimizer, so a resumed training continues exactly as
an uninterrupted one would have."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from diffusers.training_utils import compute_density_for_timestep_sampling

from fluxserve.engine.boundary.interface import ProgressCallback, StopSignal
from fluxserve.engine.boundary.messages import Progress, TrainResult, TrainTask
from fluxserve.engine.pipelines import Pipeline
from fluxserve.engine.training.adapter import save_adapter, training_adapter
from fluxserve.engine.training.checkpoint import (
    Checkpoint,
    load_checkpoint,
    save_checkpoint,
    task_fingerprint,
)
from fluxserve.engine.training.examples import Example, prepare_examples
from fluxserve.errors import Cancelled, EngineFailure, InvalidRequest

logger = logging.getLogger("fluxserve.engine")

WEIGHT_DECAY = 1e-4
MAX_GRAD_NORM = 1.0
MIN_RESOLUTION = 64


def train_lora(
    pipe: Pipeline,
    task: TrainTask,
    progress: ProgressCallback | None = None,
    stop: StopSignal | None = None,
) -> TrainResult:
    """Train a LoRA on `pipe.transformer` and write it to `task.output_path` (diffusers format,
    loadable with the pipeline class's `load_lora_weights`).

    Continues from the checkpoint in `task.work_dir` when one of this same training exists, and
    checkpoints every `task.checkpoint_every` steps. `progress` is called after every step with
    the 1-based step and its loss; an exception it raises stops the training (the last
    checkpoint survives). Once `stop` is set, the training checkpoints where it is and raises
    `Cancelled` before its next step. Whatever happens, the transformer is left as it was found."""
    _check(task)
    fingerprint = task_fingerprint(task)
    work_dir = Path(task.work_dir)
    examples = prepare_examples(pipe, task)
    checkpoint = load_checkpoint(work_dir, fingerprint)
    if checkpoint is not None and checkpoint.step > task.steps:
        checkpoint = None  # a longer run's state cannot be this run's
    with training_adapter(pipe.transformer, task.rank, task.seed) as params, torch.enable_grad():
        loop = _Loop(pipe, examples, params, task)
        if checkpoint is not None:
            loop.restore(checkpoint)
            logger.info("training resumes from step %d of %d", checkpoint.step, task.steps)
        resumed_from = loop.step
        while loop.step < task.steps:
            if stop is not None and stop.is_set():
                _stop_at(loop, work_dir, fingerprint)
            loss = loop.run_step()
            if task.checkpoint_every > 0 and loop.step % task.checkpoint_every == 0:
                save_checkpoint(work_dir, loop.checkpoint(fingerprint))
            if progress is not None:
                progress(Progress(step=loop.step, total=task.steps, loss=loss))
        save_adapter(pipe, Path(task.output_path))
    logger.info("trained LoRA %s in %d steps", task.output_path, task.steps)
    return TrainResult(lora_path=task.output_path, metadata=_metadata(task, loop, resumed_from))


def _stop_at(loop: _Loop, work_dir: Path, fingerprint: str) -> None:
    """Keep the steps done so far as the checkpoint, then stop."""
    if loop.task.checkpoint_every > 0 and loop.step > 0:
        save_checkpoint(work_dir, loop.checkpoint(fingerprint))
    raise Cancelled(f"training cancelled after step {loop.step} of {loop.task.steps}")


def _metadata(task: TrainTask, loop: _Loop, resumed_from: int) -> dict[str, Any]:
    return {
        "base_model": task.engine_model,
        "steps": task.steps,
        "rank": task.rank,
        "learning_rate": task.learning_rate,
        "trigger": task.trigger,
        "loss_curve": list(loop.losses),
        "captioned": any(caption is not None for caption in task.captions),
        "resumed_from_step": resumed_from,
        "images": len(task.images),
        "resolution": task.resolution,
        "seed": task.seed,
    }


def _check(task: TrainTask) -> None:
    if not task.images:
        raise InvalidRequest("training needs at least one image")
    if len(task.captions) != len(task.images):
        raise InvalidRequest(
            f"training got {len(task.images)} images but {len(task.captions)} captions"
        )
    if task.steps < 1:
        raise InvalidRequest(f"training needs at least 1 step, got {task.steps}")
    if task.rank < 1:
        raise InvalidRequest(f"LoRA rank must be at least 1, got {task.rank}")
    if not math.isfinite(task.learning_rate) or task.learning_rate <= 0:
        raise InvalidRequest(f"learning_rate must be positive, got {task.learning_rate}")
    if task.resolution < MIN_RESOLUTION:
        raise InvalidRequest(
            f"training resolution must be at least {MIN_RESOLUTION}, got {task.resolution}"
        )


@dataclass
class _Loop:
    """The mutable state of one training: weights, optimizer, generator, step, losses."""

    pipe: Pipeline
    examples: list[Example]
    params: dict[str, torch.nn.Parameter]
    task: TrainTask
    step: int = 0
    losses: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.optimizer = torch.optim.AdamW(
            list(self.params.values()), lr=self.task.learning_rate, weight_decay=WEIGHT_DECAY
        )
        # A CPU generator gives the same draws on every device.
        self.generator = torch.Generator("cpu").manual_seed(self.task.seed)

    def run_step(self) -> float:
        """One optimizer step on one example; returns its loss."""
        transformer = self.pipe.transformer
        example = self.examples[self._draw_index()]
        x0 = example.latents.float()
        sigma = compute_density_for_timestep_sampling(
            "logit_normal", 1, logit_mean=0.0, logit_std=1.0, generator=self.generator
        )
        noise = torch.randn(x0.shape, generator=self.generator).to(x0.device)
        s = sigma.to(x0.device).view(-1, 1, 1, 1)
        noisy = (1.0 - s) * x0 + s * noise
        pack = self.pipe._pack_latents
        prediction = transformer(
            hidden_states=pack(noisy).to(transformer.dtype),
            # The pipeline passes scheduler timesteps / 1000, which are the sigmas themselves.
            timestep=s.view(-1).to(transformer.dtype),
            guidance=None,
            encoder_hidden_states=example.prompt_embeds.to(transformer.dtype),
            txt_ids=example.text_ids,
            img_ids=example.latent_ids,
            return_dict=False,
        )[0]
        loss = torch.nn.functional.mse_loss(prediction.float(), pack(noise - x0))
        self.optimizer.zero_grad(set_to_none=True)
        torch.autograd.backward(loss)
        torch.nn.utils.clip_grad_norm_(list(self.params.values()), MAX_GRAD_NORM)
        self.optimizer.step()
        value = float(loss.detach())
        self.step += 1
        if not math.isfinite(value):
            raise EngineFailure(
                f"LoRA training diverged at step {self.step} (loss {value}); "
                "a lower learning_rate may help"
            )
        self.losses.append(value)
        return value

    def _draw_index(self) -> int:
        return int(torch.randint(len(self.examples), (1,), generator=self.generator))

    def checkpoint(self, fingerprint: str) -> Checkpoint:
        return Checkpoint(
            fingerprint=fingerprint,
            step=self.step,
            lora={name: p.detach().to("cpu").clone() for name, p in self.params.items()},
            optimizer=self.optimizer.state_dict(),
            losses=list(self.losses),
            rng_state=self.generator.get_state(),
        )

    def restore(self, checkpoint: Checkpoint) -> None:
        with torch.no_grad():
            for name, param in self.params.items():
                param.copy_(checkpoint.lora[name])
        self.optimizer.load_state_dict(checkpoint.optimizer)
        self.generator.set_state(checkpoint.rng_state)
        self.step = checkpoint.step
        self.losses = list(checkpoint.losses)
