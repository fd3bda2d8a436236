"""Which tasks share a pipeline call."""

from __future__ import annotations

from fluxserve.engine.boundary.messages import LoraRef
from fluxserve.engine.inference.batching import Batch, BatchItem, plan_batches
from tests.engine.fixtures_local_engine import input_png, make_task


def _items(batches: list[Batch]) -> list[list[tuple[int, int]]]:
    return [[(i.task, i.seed) for i in batch.items] for batch in batches]


def test_compatible_tasks_share_one_call_in_order() -> None:
    tasks = [make_task(seeds=(1, 2)), make_task(prompt="another", seeds=(3,))]
    batches = plan_batches(tasks, max_batch=4)
    assert _items(batches) == [[(0, 0), (0, 1), (1, 0)]]


def test_different_settings_never_share() -> None:
    tasks = [
        make_task(),
        make_task(width=128),
        make_task(steps=3),
        make_task(loras=(LoraRef("style", "/x.safetensors"),)),
        make_task(engine_model="flux1-dev"),
    ]
    assert len(plan_batches(tasks, max_batch=8)) == 5


def test_max_batch_splits_a_group() -> None:
    tasks = [make_task(seeds=(1, 2, 3)), make_task(seeds=(4, 5))]
    assert _items(plan_batches(tasks, max_batch=2)) == [
        [(0, 0), (0, 1)],
        [(0, 2), (1, 0)],
        [(1, 1)],
    ]


def test_input_images_must_be_identical_to_share() -> None:
    first = make_task(operation="image_to_image", image=input_png(seed=1), strength=0.5)
    same = make_task(operation="image_to_image", image=input_png(seed=1), strength=0.5)
    other = make_task(operation="image_to_image", image=input_png(seed=2), strength=0.5)
    assert _items(plan_batches([first, other, same], max_batch=8)) == [[(0, 0), (2, 0)], [(1, 0)]]


def test_accelerated_tasks_run_alone_but_keep_their_seeds_together() -> None:
    tasks = [make_task(acceleration="high", seeds=(1, 2)), make_task(acceleration="high")]
    batches = plan_batches(tasks, max_batch=8)
    assert [batch.items for batch in batches] == [
        (BatchItem(0, 0), BatchItem(0, 1)),
        (BatchItem(1, 0),),
    ]
