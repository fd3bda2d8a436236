from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from fluxserve.errors import InvalidRequest
from fluxserve.inputs.images import SUPPORTED_INPUT_FORMATS, decode_image, to_png_bytes

LIMIT = 4_000_000


def picture(width: int = 40, height: int = 24, mode: str = "RGB") -> Image.Image:
    gradient = Image.linear_gradient("L").resize((width, height))
    if mode == "L":
        return gradient
    image = Image.merge(
        "RGB", (gradient, gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT), gradient)
    )
    if mode == "RGBA":
        image.putalpha(gradient)
    return image


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a size in its header and holds no pixel data at all."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


@pytest.mark.parametrize("fmt", sorted(SUPPORTED_INPUT_FORMATS))
def test_supported_formats_decode(fmt: str) -> None:
    data = encoded(picture(40, 24), fmt)
    decoded = decode_image(data, what="image_url", max_pixels=LIMIT)
    assert (decoded.format, decoded.width, decoded.height) == (fmt, 40, 24)
    assert decoded.data == data


@pytest.mark.parametrize("fmt", ["BMP", "TIFF", "ICO"])
def test_other_formats_are_refused(fmt: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode_image(encoded(picture(32, 32), fmt), what="image_url", max_pixels=LIMIT)
    assert caught.value.message == "image_url is not a supported image (JPEG, PNG, GIF or WEBP)"


def test_garbage_and_empty_input_are_refused() -> None:
    with pytest.raises(InvalidRequest, match=r"^mask_url is not a supported image"):
        decode_image(b"<html>not an image</html>", what="mask_url", max_pixels=LIMIT)
    with pytest.raises(InvalidRequest, match=r"^mask_url is empty$"):
        decode_image(b"", what="mask_url", max_pixels=LIMIT)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_images_are_refused(fmt: str) -> None:
    data = encoded(picture(64, 64), fmt)
    with pytest.raises(InvalidRequest, match=r"^image_url is not a valid image"):
        decode_image(data[: len(data) // 2], what="image_url", max_pixels=LIMIT)


def test_too_many_pixels_are_refused_with_the_numbers() -> None:
    data = encoded(picture(100, 60), "PNG")
    assert decode_image(data, what="image_url", max_pixels=6000).width == 100
    with pytest.raises(InvalidRequest) as caught:
        decode_image(data, what="image_url", max_pixels=5999)
    assert caught.value.message == (
        "image_url is too large: 100x60 is 6000 pixels, more than the limit of 5999"
    )


# PIL warns about the 10000² header on open; our own check then refuses it.
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize(
    ("side", "message"),
    [
        (10_000, "image_url is too large: 10000x10000 is 100000000 pixels, more than the limit"),
        (40_000, "image_url has too many pixels"),
    ],
)
def test_decompression_bombs_are_refused_before_decoding(side: int, message: str) -> None:
    # 10000² lies between our limit and PIL's own; 40000² is over PIL's hard limit too.
    with pytest.raises(InvalidRequest) as caught:
        decode_image(png_header_only(side, side), what="image_url", max_pixels=LIMIT)
    assert caught.value.message.startswith(message)


def test_exif_orientation_swaps_the_reported_size_and_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    data = encoded(picture(40, 24), "JPEG", exif=exif.tobytes())
    decoded = decode_image(data, what="image_url", max_pixels=LIMIT)
    assert (decoded.width, decoded.height) == (24, 40)
    with Image.open(io.BytesIO(to_png_bytes(data))) as upright:
        assert upright.size == (24, 40)


def test_png_normalisation_keeps_alpha_and_drops_the_rest_to_rgb() -> None:
    for mode, expected in [("RGBA", "RGBA"), ("RGB", "RGB"), ("L", "RGB")]:
        with Image.open(io.BytesIO(to_png_bytes(encoded(picture(mode=mode), "PNG")))) as out:
            assert (out.format, out.mode, out.size) == ("PNG", expected, (40, 24))


def test_cmyk_jpeg_becomes_rgb() -> None:
    data = encoded(picture().convert("CMYK"), "JPEG")
    with Image.open(io.BytesIO(to_png_bytes(data))) as out:
        assert out.mode == "RGB"


def test_gif_gives_its_first_frame_with_transparency() -> None:
    first = Image.new("RGBA", (16, 16), (255, 0, 0, 255))
    first.paste((0, 0, 0, 0), (0, 0, 8, 16))  # left half see-through
    second = Image.new("RGBA", (16, 16), (0, 0, 255, 255))
    data = encoded(first, "GIF", save_all=True, append_images=[second])
    assert decode_image(data, what="image_url", max_pixels=LIMIT).format == "GIF"
    with Image.open(io.BytesIO(to_png_bytes(data))) as out:
        assert out.mode == "RGBA"
        assert out.getpixel((12, 8)) == (255, 0, 0, 255)
        assert out.getpixel((2, 8)) == (0, 0, 0, 0)


def test_sixteen_bit_greyscale_keeps_its_tones() -> None:
    grey = Image.new("I;16", (8, 8), 32768)
    with Image.open(io.BytesIO(to_png_bytes(encoded(grey, "PNG")))) as out:
        assert out.mode == "RGB"
        assert out.getpixel((0, 0)) == (128, 128, 128)


def test_png_normalisation_refuses_garbage() -> None:
    with pytest.raises(InvalidRequest, match=r"input image is not a supported image"):
        to_png_bytes(b"nope")
