"""Grouping tasks into pipeline calls. Torch-free.

Each image is one (task, seed) pair with a generator of its own, so an image is the same whether
it ran alone or in a batch (to float rounding). Tasks share a call when their `batch_key()`
matches and their input image and mask bytes are identical (pipelines take one set of reference
images per call). With acceleration on, First Block Cache decides per call whether to skip
blocks, from the whole batch; such tasks never share a call with other tasks, so a request's
images never depend on someone else's request (its own seeds still run together)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from fluxserve.engine.boundary.messages import GenerateTask


@dataclass(frozen=True)
class BatchItem:
    """One output image: task `task` (index into the input), its seed number `seed`."""

    task: int
    seed: int


@dataclass(frozen=True)
class Batch:
    """One pipeline call: `items` in order; `task` holds the settings all of them share."""

    task: GenerateTask
    items: tuple[BatchItem, ...]


def plan_batches(tasks: Sequence[GenerateTask], max_batch: int) -> list[Batch]:
    """Calls that produce every image of `tasks`, at most `max_batch` images each, in the
    order the tasks came."""
    groups: dict[Hashable, list[BatchItem]] = {}
    for index, task in enumerate(tasks):
        items = groups.setdefault(_group_key(index, task), [])
        items.extend(BatchItem(index, seed) for seed in range(len(task.seeds)))
    batches: list[Batch] = []
    for items in groups.values():
        for start in range(0, len(items), max_batch):
            chunk = tuple(items[start : start + max_batch])
            batches.append(Batch(tasks[chunk[0].task], chunk))
    return batches


def _group_key(index: int, task: GenerateTask) -> Hashable:
    alone = index if task.acceleration != "none" else None
    return (task.batch_key(), task.image, task.mask, alone)
