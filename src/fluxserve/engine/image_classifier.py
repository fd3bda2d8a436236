"""The image safety check's torch half: an operator's local image-classification model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image
from transformers import AutoImageProcessor, AutoModelForImageClassification

from fluxserve.engine.devices import resolve_device
from fluxserve.safety.image_check import (
    CheckerDeviceUnavailable,
    ImageVerdict,
    ThresholdRange,
    image_verdicts,
    rgb,
    unsafe_label_indices,
)


class TransformersImageClassifierChecker:
    """An image-classification model from a local folder (`AutoModelForImageClassification` and
    `AutoImageProcessor`). Its unsafe score is the probability mass on labels named for unsafe
    content (`UNSAFE_LABEL_WORDS`), or their highest sigmoid for multi-label models."""

    def __init__(
        self,
        model_path: str | Path,
        *,
        thresholds: ThresholdRange | None = None,
        device: str = "cpu",
    ) -> None:
        folder = Path(model_path)
        if not folder.is_dir():
            raise ValueError(f"image safety model folder not found: {folder}")
        self._thresholds = thresholds or ThresholdRange()
        device = resolve_device(device)
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise CheckerDeviceUnavailable(f"image_checker_device {device!r}: torch sees no GPU")
        self.device = device
        # transformers leaves from_pretrained untyped here.
        self._processor = AutoImageProcessor.from_pretrained(  # type: ignore[no-untyped-call]
            folder, local_files_only=True
        )
        model = AutoModelForImageClassification.from_pretrained(folder, local_files_only=True)
        self._model = model.to(self.device).eval()
        self._unsafe = unsafe_label_indices(model.config.id2label)
        if not self._unsafe:
            raise ValueError(
                f"model in {folder} has no unsafe label (labels: {model.config.id2label})"
            )
        self._multi_label = model.config.problem_type == "multi_label_classification"
        self._name = folder.name

    @property
    def unsafe_labels(self) -> tuple[str, ...]:
        """The model's labels that count as unsafe."""
        id2label = self._model.config.id2label
        return tuple(str(id2label[i]) for i in self._unsafe)

    def scores(self, images: Sequence[Image.Image]) -> list[float]:
        """The unsafe score of each image."""
        inputs = self._processor(images=[rgb(im) for im in images], return_tensors="pt")
        with torch.inference_mode():
            logits = self._model(**inputs.to(self.device)).logits.float()
        unsafe = list(self._unsafe)
        if self._multi_label:
            per_label = torch.sigmoid(logits)[:, unsafe]
            return [float(v) for v in per_label.max(dim=-1).values]
        probabilities = torch.softmax(logits, dim=-1)[:, unsafe]
        return [float(v) for v in probabilities.sum(dim=-1)]

    def check(self, images: Sequence[Image.Image], strictness: float) -> list[ImageVerdict]:
        threshold = self._thresholds.at(strictness)
        if not images:
            return []
        return image_verdicts(self.scores(images), threshold, self._name)
