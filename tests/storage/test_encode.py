from __future__ import annotations

import io

import pytest
from PIL import Image

from fluxserve.errors import InvalidRequest
from fluxserve.storage.encode import OUTPUT_FORMATS, encode_image


def picture(mode: str = "RGB") -> Image.Image:
    gradient = Image.linear_gradient("L").resize((96, 64))
    image = Image.merge(
        "RGB", (gradient, gradient.rotate(90), Image.radial_gradient("L").resize((96, 64)))
    )
    if mode == "RGBA":
        image.putalpha(gradient)
    return image


@pytest.mark.parametrize(
    ("fmt", "pil_format", "content_type", "extension"),
    [
        ("jpeg", "JPEG", "image/jpeg", "jpg"),
        ("jpg", "JPEG", "image/jpeg", "jpg"),
        ("JPEG", "JPEG", "image/jpeg", "jpg"),
        ("png", "PNG", "image/png", "png"),
        ("webp", "WEBP", "image/webp", "webp"),
    ],
)
def test_formats_round_trip(fmt: str, pil_format: str, content_type: str, extension: str) -> None:
    encoded = encode_image(picture(), fmt)
    assert (encoded.content_type, encoded.extension) == (content_type, extension)
    with Image.open(io.BytesIO(encoded.data)) as decoded:
        assert (decoded.format, decoded.size, decoded.mode) == (pil_format, (96, 64), "RGB")


def test_table_lists_the_four_names() -> None:
    assert sorted(OUTPUT_FORMATS) == ["jpeg", "jpg", "png", "webp"]


def test_png_is_lossless_and_keeps_alpha() -> None:
    image = picture("RGBA")
    with Image.open(io.BytesIO(encode_image(image, "png").data)) as decoded:
        assert decoded.mode == "RGBA"
        assert decoded.tobytes() == image.tobytes()


def test_webp_keeps_alpha_and_jpeg_drops_it() -> None:
    with Image.open(io.BytesIO(encode_image(picture("RGBA"), "webp").data)) as decoded:
        assert decoded.mode == "RGBA"
    with Image.open(io.BytesIO(encode_image(picture("RGBA"), "jpeg").data)) as decoded:
        assert decoded.mode == "RGB"


@pytest.mark.parametrize(("fmt", "default"), [("jpeg", 90), ("webp", 80)])
def test_quality_applies_to_lossy_formats(fmt: str, default: int) -> None:
    image = picture()
    assert encode_image(image, fmt).data == encode_image(image, fmt, default).data
    assert len(encode_image(image, fmt, 10).data) < len(encode_image(image, fmt, 95).data)


def test_quality_is_ignored_for_png() -> None:
    image = picture()
    assert encode_image(image, "png", 10).data == encode_image(image, "png").data


def test_palette_images_are_stored_as_rgb() -> None:
    with Image.open(io.BytesIO(encode_image(picture().convert("P"), "webp").data)) as decoded:
        assert decoded.mode == "RGB"


def test_unknown_format_and_bad_quality_are_refused() -> None:
    with pytest.raises(
        InvalidRequest, match=r"^output_format must be one of: jpeg, jpg, png, webp$"
    ):
        encode_image(picture(), "gif")
    with pytest.raises(InvalidRequest, match=r"between 0 and 100"):
        encode_image(picture(), "jpeg", 101)
