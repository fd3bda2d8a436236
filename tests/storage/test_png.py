"""The parallel PNG writer: every mode it takes decodes, in Pillow and in zlib, to the very
pixels it was given, whether its stream was deflated in one piece or in slices."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from fluxserve.storage.encode import encode_image
from fluxserve.storage.png import encode_png, writable


def noisy(mode: str, width: int, height: int, seed: int = 0) -> Image.Image:
    bands = len(Image.new(mode, (1, 1)).getbands())
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, bands), dtype=np.uint8)
    return Image.fromarray(pixels.squeeze(axis=2) if bands == 1 else pixels, mode)


def decoded(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert image.format == "PNG"
        return image.copy()


def idat(data: bytes) -> bytes:
    """The concatenated IDAT payload, after checking every chunk's CRC."""
    payload, offset = b"", 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert crc == zlib.crc32(body, zlib.crc32(kind))
        payload += body if kind == b"IDAT" else b""
        offset += 12 + length
    return payload


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
@pytest.mark.parametrize(("width", "height"), [(1, 1), (3, 5), (97, 64)])
def test_every_mode_and_shape_round_trips(mode: str, width: int, height: int) -> None:
    image = noisy(mode, width, height)
    back = decoded(encode_png(image))
    assert (back.mode, back.size) == (mode, (width, height))
    assert back.tobytes() == image.tobytes()


@pytest.mark.parametrize("threads", [2, 3, 7])
def test_a_stream_deflated_in_slices_is_one_valid_zlib_stream(threads: int) -> None:
    image = noisy("RGB", 120, 90, seed=threads)
    whole = encode_png(image, threads=1)
    sliced = encode_png(image, threads=threads, slice_bytes=4096)
    assert sliced != whole  # the sliced path really ran
    assert zlib.decompress(idat(sliced)) == zlib.decompress(idat(whole))
    assert decoded(sliced).tobytes() == image.tobytes()


def test_slices_reach_back_into_the_previous_one() -> None:
    """A repeating picture compresses as well in slices as whole: each slice is primed with
    the window before it, so its matches may start in the previous slice."""
    tile = noisy("RGB", 64, 8)
    image = Image.new("RGB", (64, 256))
    for top in range(0, 256, 8):
        image.paste(tile, (0, top))
    whole = len(encode_png(image, threads=1))
    sliced = encode_png(image, threads=4, slice_bytes=4096)
    assert decoded(sliced).tobytes() == image.tobytes()
    assert len(sliced) < whole * 1.2


def test_images_with_more_than_pixels_are_left_to_pillow() -> None:
    transparent = noisy("L", 8, 8)
    transparent.info["transparency"] = 0
    assert not writable(transparent)
    assert not writable(Image.new("P", (4, 4)))
    with pytest.raises(ValueError, match="Pillow"):
        encode_png(Image.new("I;16", (4, 4)))
    back = decoded(encode_image(transparent, "png").data)
    assert back.info.get("transparency") == 0


def test_encode_image_writes_png_here() -> None:
    image = noisy("RGB", 40, 30)
    assert encode_image(image, "png").data == encode_png(image)
