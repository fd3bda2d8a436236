from __future__ import annotations

import pytest

from fluxserve.errors import InvalidRequest
from fluxserve.inputs.sizes import (
    IMAGE_SIZE_PRESETS,
    ULTRA_ASPECT_SIZES,
    megapixels_size,
    parse_image_size,
    snap_to_multiple,
    ultra_aspect_size,
)

MP = 1024 * 1024
BIG = 16 * MP


def size(
    value: str, input_size: tuple[int, int] | None = None, max_pixels: int = BIG
) -> tuple[int, int]:
    return parse_image_size(value, what="image_size", input_size=input_size, max_pixels=max_pixels)


def test_preset_table_is_complete() -> None:
    assert IMAGE_SIZE_PRESETS == {
        "square_hd": (1024, 1024),
        "square": (512, 512),
        "portrait_4_3": (768, 1024),
        "portrait_16_9": (576, 1024),
        "landscape_4_3": (1024, 768),
        "landscape_16_9": (1024, 576),
        "square_1_1": (1024, 1024),
        "portrait_4_5": (832, 1040),
        "portrait_9_16": (576, 1024),
        "landscape_3_2": (1152, 768),
        "landscape_21_9": (1344, 576),
    }


def test_ultra_table_is_complete_and_about_four_megapixels() -> None:
    assert list(ULTRA_ASPECT_SIZES) == [
        "21:9", "16:9", "4:3", "3:2", "1:1", "2:3", "3:4", "9:16", "9:21"
    ]  # fmt: skip
    assert ULTRA_ASPECT_SIZES["16:9"] == (2752, 1536)
    for ratio, (width, height) in ULTRA_ASPECT_SIZES.items():
        across, down = (int(part) for part in ratio.split(":"))
        assert abs(width / height - across / down) < 0.03, ratio
        assert 3.9 * MP < width * height < 4.3 * MP, ratio
        assert ULTRA_ASPECT_SIZES[f"{down}:{across}"] == (height, width)


def test_every_table_size_is_a_multiple_of_16() -> None:
    for width, height in [*IMAGE_SIZE_PRESETS.values(), *ULTRA_ASPECT_SIZES.values()]:
        assert width % 16 == 0 and height % 16 == 0


@pytest.mark.parametrize(("name", "expected"), list(IMAGE_SIZE_PRESETS.items()))
def test_presets_parse(name: str, expected: tuple[int, int]) -> None:
    assert size(name) == expected
    assert size(f" {name.upper()} ") == expected


def test_auto_without_input_is_1024_square() -> None:
    assert size("auto") == (1024, 1024)


def test_auto_keeps_a_fitting_input_size_rounded_to_16() -> None:
    assert size("auto", (800, 592)) == (800, 592)
    assert size("auto", (799, 601)) == (800, 608)


def test_auto_scales_a_large_input_down_keeping_its_aspect() -> None:
    width, height = size("auto", (4000, 3000), max_pixels=MP)
    assert width * height <= MP
    assert width % 16 == 0 and height % 16 == 0
    assert abs(width / height - 4 / 3) < 0.02
    assert width * height > 0.95 * MP


def test_auto_respects_the_longest_side() -> None:
    width, height = size("auto", (8000, 500))
    assert (width, height) == (4096, 256)


def test_auto_never_goes_below_64() -> None:
    assert size("auto", (20, 30)) == (64, 64)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1024x768", (1024, 768)),
        ("1024X768", (1024, 768)),
        ("1024×768", (1024, 768)),
        ("1024*768", (1024, 768)),
        (" 512 x 512 ", (512, 512)),
        ("1000x1000", (1008, 1008)),
        ("64x4096", (64, 4096)),
    ],
)
def test_explicit_sizes(value: str, expected: tuple[int, int]) -> None:
    assert size(value) == expected


@pytest.mark.parametrize(
    "value", ["63x64", "64x4097", "0x0", "-512x512", "512", "512x", "huge", "", "1e3x1e3"]
)
def test_bad_sizes_are_refused_listing_the_choices(value: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        size(value)
    message = caught.value.message
    assert message.startswith("image_size must be one of: square_hd, square, portrait_4_3")
    assert "landscape_21_9, auto, or WIDTHxHEIGHT with each side between 64 and 4096" in message
    assert message.endswith(f"got '{value}'")


def test_sizes_over_the_model_limit_are_refused() -> None:
    with pytest.raises(InvalidRequest) as caught:
        size("2048x2048", max_pixels=2 * MP)
    assert caught.value.message == (
        "image_size 2048x2048 is 4194304 pixels, more than this model's limit of 2097152"
    )
    with pytest.raises(InvalidRequest, match=r"^image_size 1024x1024 is"):
        size("square_hd", max_pixels=512 * 512)


def test_ultra_aspect_size() -> None:
    assert ultra_aspect_size("21:9") == (3136, 1344)
    with pytest.raises(
        InvalidRequest, match=r"^aspect_ratio must be one of: 21:9, 16:9.*got '5:4'$"
    ):
        ultra_aspect_size("5:4")


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [(1024, 768, (1024, 768)), (1023, 1025, (1024, 1024)), (24, 8, (32, 16)), (1, 0, (16, 16))],
)
def test_snap_to_multiple(width: int, height: int, expected: tuple[int, int]) -> None:
    assert snap_to_multiple(width, height) == expected


def test_snap_to_other_multiples() -> None:
    assert snap_to_multiple(100, 70, multiple=64) == (128, 64)


def test_megapixels_keep_the_input_aspect() -> None:
    assert megapixels_size("0.25", (800, 800)) == (512, 512)
    assert megapixels_size("1", (1000, 500)) == (1456, 720)
    width, height = megapixels_size("2", (3000, 2000))
    assert abs(width * height - 2 * MP) < 0.03 * 2 * MP
    assert abs(width / height - 1.5) < 0.02


def test_megapixels_match_input() -> None:
    assert megapixels_size("match_input", (1000, 750)) == (1008, 752)
    assert megapixels_size("match_input", (9000, 9000)) == (4096, 4096)


@pytest.mark.parametrize("value", ["0", "-1", "many", "NaN", "Infinity", "17"])
def test_bad_megapixels_are_refused(value: str) -> None:
    with pytest.raises(InvalidRequest, match=r"^megapixels must be a number above 0"):
        megapixels_size(value, (512, 512))
