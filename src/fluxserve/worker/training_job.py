"""A LoRA training job: stored dataset in, LoRA file plus a JSON sidecar out."""

from __future__ import annotations

import json
from pathlib import Path

from fluxserve.engine.messages import TrainTask
from fluxserve.errors import InvalidRequest
from fluxserve.jobs.records import JobRecord
from fluxserve.jobs.spec import TrainingSpec
from fluxserve.settings import TrainingConfig
from fluxserve.storage.base import MediaStorage
from fluxserve.worker.protocols import EngineClient, ProgressFn

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
    engine: EngineClient,
    storage: MediaStorage,
    work_dir: Path,
    progress: ProgressFn,
    config: TrainingConfig,
) -> tuple[list[str], str]:
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
    result = engine.train(task, progress)
    lora_key = f"outputs/{job.request_id}/lora.safetensors"
    lora_url = storage.put(lora_key, Path(result.lora_path).read_bytes(), LORA_MEDIA_TYPE)
    sidecar = dict(result.metadata)
    sidecar.update({"request_id": job.request_id, "lora_file": lora_url})
    sidecar_url = storage.put(
        f"outputs/{job.request_id}/lora.json",
        json.dumps(sidecar, indent=2, sort_keys=True).encode(),
        "application/json",
    )
    return [lora_url, sidecar_url], LORA_MEDIA_TYPE
