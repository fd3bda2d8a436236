"""Input images and datasets for tests, made on the fly (tests may draw; src/ never does)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image


def noise_image(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")


def mask_image(width: int, height: int) -> Image.Image:
    """Black (keep) with a white (repaint) rectangle in the middle."""
    pixels = np.zeros((height, width), dtype=np.uint8)
    pixels[height // 4 : 3 * height // 4, width // 4 : 3 * width // 4] = 255
    return Image.fromarray(pixels, "L")


def encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def dataset_zip(count: int, size: int = 64, captions: bool = True) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index in range(count):
            archive.writestr(f"img{index}.png", encode(noise_image(size, size, index), "PNG"))
            if captions:
                archive.writestr(f"img{index}.txt", f"a photo of texture number {index}")
    return buffer.getvalue()


def write_inputs(folder: Path) -> None:
    """The files the spec's examples point at, under the same names."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "photo.png").write_bytes(encode(noise_image(96, 64, 1), "PNG"))
    (folder / "mask.png").write_bytes(encode(mask_image(96, 64), "PNG"))
    (folder / "model.png").write_bytes(encode(noise_image(80, 112, 2), "PNG"))
    (folder / "input_model.png").write_bytes(encode(noise_image(128, 96, 3), "PNG"))
    (folder / "coffee.jpg").write_bytes(encode(noise_image(112, 80, 4), "JPEG"))
    (folder / "reference_style.jpg").write_bytes(encode(noise_image(64, 64, 5), "JPEG"))
    (folder / "dataset.zip").write_bytes(dataset_zip(3))
    (folder / "anim.gif").write_bytes(encode(noise_image(64, 48, 6), "GIF"))
    (folder / "pic.webp").write_bytes(encode(noise_image(64, 48, 7), "WEBP"))
    (folder / "not-an-image.png").write_bytes(b"this is text, not a picture")
