"""A LoRA training job: stored dataset in, LoRA file plus a JSON sidecar out."""

from __future__ import annotations

import json
from pathlib import Path

from fluxserve.engine.boundary.interface import Engine, ProgressCallback, StopSignal
from fluxserve.engine.boundary.messages import TrainTask
from fluxserve.errors import InvalidRequest
from fluxserve.jobs.records import JobRecord
from fluxserve.jobs.spec import TrainingSpec
from fluxserve.settings import TrainingConfig
from fluxserve.storage.base import MediaStorage
from fluxserve.worker.tasks import attempt_folder

LORA_MEDIA_TYPE = "application/octet-stream"


def _read(storage: MediaStorage, key: str) -> bytes:
    found = storage.get(key)
    if found is None:
        raise InvalidRequest(f"training input is missing from storage ({key})")
    return found[0]


def load_samples(storage: MediaStorage, manifest_key: str) -> tuple[list[bytes], list[str | None]]:
    manifest = json.loads(_read(storage, manifest_key))
    images = [_read(storage, item["image_key"]) for item in manifest["samples"]]
    captions = [item.get("caption") for item in manifest["samples"]]
    return images, captions


def run_training(
    job: JobRecord,
    spec: TrainingSpec,
    engine: Engine,
    storage: MediaStorage,
    work_dir: Path,
    progress: ProgressCallback,
    config: TrainingConfig,
    stop: StopSignal | None = None,
) -> tuple[list[str], str]:
    """Train, then store the LoRA and its sidecar; `Cancelled` once `stop` is set."""
    images, captions = load_samples(storage, spec.dataset_key)
    job_dir = work_dir / "train" / job.request_id
    job_dir.mkdir(parents=True, exist_ok=True)
    task = TrainTask(
        engine_model=spec.engine_model,
        images=tuple(images),
        captions=tuple(captions),
        trigger=spec.trigger,
        steps=spec.steps,
        learning_rate=spec.learning_rate,
        rank=spec.rank,
        seed=spec.seed,
        work_dir=str(job_dir / "checkpoints"),
        output_path=str(job_dir / "lora.safetensors"),
        resolution=config.resolution,
        checkpoint_every=config.checkpoint_every,
    )
    result = engine.train(task, progress, stop)
    folder = attempt_folder(job)
    lora_key = f"{folder}/lora.safetensors"
    storage.put(lora_key, Path(result.lora_path).read_bytes(), LORA_MEDIA_TYPE)
    sidecar = dict(result.metadata)
    # The file beside it: a relative name, so the sidecar stays true behind any URL.
    sidecar.update({"request_id": job.request_id, "lora_file": "lora.safetensors"})
    sidecar_key = f"{folder}/lora.json"
    body = json.dumps(sidecar, indent=2, sort_keys=True).encode()
    storage.put(sidecar_key, body, "application/json")
    return [lora_key, sidecar_key], LORA_MEDIA_TYPE
