"""Training checkpoints: everything needed to continue a LoRA training exactly where it stopped.

One file per work folder, replaced atomically (write a temporary sibling, fsync, rename), so a
crash at any moment leaves either the previous checkpoint or the new one, never half of one.
Loaded with `weights_only=True`: a checkpoint is data, never code."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from fluxserve.engine.boundary.messages import TrainTask

logger = logging.getLogger("fluxserve.engine")

CHECKPOINT_NAME = "checkpoint.pt"
FORMAT = 1


@dataclass(frozen=True)
class Checkpoint:
    """The state of a training after `step` optimizer steps."""

    fingerprint: str  # of the task it belongs to
    step: int
    lora: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    losses: list[float]
    rng_state: torch.Tensor  # of the training's own torch.Generator


def task_fingerprint(task: TrainTask) -> str:
    """A digest of everything that shapes the training (not `steps`: a longer run of the same
    training may continue a shorter one)."""
    digest = hashlib.sha256()
    for part in (task.engine_model, task.trigger, task.rank, task.learning_rate, task.seed):
        digest.update(repr(part).encode())
    digest.update(repr(task.resolution).encode())
    for image, caption in zip(task.images, task.captions, strict=True):
        digest.update(hashlib.sha256(image).digest())
        digest.update(repr(caption).encode())
    return digest.hexdigest()


def save_checkpoint(work_dir: Path, checkpoint: Checkpoint) -> None:
    """Replace the checkpoint in `work_dir` atomically."""
    work_dir.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "fingerprint": checkpoint.fingerprint,
        "step": checkpoint.step,
        "lora": checkpoint.lora,
        "optimizer": checkpoint.optimizer,
        "losses": checkpoint.losses,
        "rng_state": checkpoint.rng_state,
    }
    fd, scratch = tempfile.mkstemp(prefix=f".{CHECKPOINT_NAME}.", dir=work_dir)
    try:
        with os.fdopen(fd, "wb") as out:
            torch.save(payload, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(scratch, work_dir / CHECKPOINT_NAME)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise
    _fsync_dir(work_dir)


def load_checkpoint(work_dir: Path, fingerprint: str) -> Checkpoint | None:
    """The checkpoint in `work_dir` when it belongs to the task with `fingerprint`, else None."""
    path = work_dir / CHECKPOINT_NAME
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        checkpoint = Checkpoint(
            fingerprint=payload["fingerprint"],
            step=int(payload["step"]),
            lora=payload["lora"],
            optimizer=payload["optimizer"],
            losses=[float(x) for x in payload["losses"]],
            rng_state=payload["rng_state"],
        )
    except Exception as exc:
        # Unreadable (disk fault, older format): starting over is correct, only slower.
        logger.warning("ignoring unreadable training checkpoint %s: %s", path, exc)
        return None
    if payload.get("format") != FORMAT or checkpoint.fingerprint != fingerprint:
        logger.warning("ignoring training checkpoint %s: it belongs to another training", path)
        return None
    return checkpoint


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; not every platform can open a folder.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
