"""load_dataset: single images, captioned zips, and every hostile archive refused by name."""

from __future__ import annotations

import io
import stat
import zipfile

import numpy as np
import pytest
from PIL import Image

from fluxserve.errors import InvalidRequest
from fluxserve.inputs.dataset import DatasetLimits, load_dataset


def encoded(fmt: str, size: tuple[int, int] = (24, 16), mode: str = "RGB", seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    pixels = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    img = Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels, mode)
    out = io.BytesIO()
    img.save(out, format=fmt)
    return out.getvalue()


def make_zip(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return out.getvalue()


def decoded(png: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG"
    return img


def refused(data: bytes, *words: str, limits: DatasetLimits | None = None) -> str:
    with pytest.raises(InvalidRequest) as info:
        load_dataset(data, limits=limits or DatasetLimits())
    message = info.value.message
    assert "image_data_url" in message
    for word in words:
        assert word in message, message
    return message


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
def test_single_image_becomes_one_rgb_png_sample(fmt: str) -> None:
    dataset = load_dataset(encoded(fmt, size=(24, 16)))
    assert not dataset.captioned
    (sample,) = dataset.samples
    assert sample.caption is None
    img = decoded(sample.image_png)
    assert (img.mode, img.size) == ("RGB", (24, 16))


def test_single_png_keeps_its_pixels() -> None:
    original = encoded("PNG", mode="RGB", seed=3)
    (sample,) = load_dataset(original).samples
    assert np.array_equal(
        np.asarray(decoded(sample.image_png)), np.asarray(Image.open(io.BytesIO(original)))
    )


def test_grey_and_alpha_images_become_rgb() -> None:
    for mode in ("L", "RGBA"):
        (sample,) = load_dataset(encoded("PNG", mode=mode)).samples
        assert decoded(sample.image_png).mode == "RGB"


def test_zip_pairs_captions_by_stem_and_ignores_mac_junk() -> None:
    data = make_zip(
        {
            "cat.png": encoded("PNG", seed=1),
            "cat.txt": "\ufeff  a cat on a sofa \n".encode(),
            "photos/dog.JPG": encoded("JPEG", seed=2),
            "photos/dog.txt": b"a dog",
            "bird.webp": encoded("WEBP", seed=3),
            "__MACOSX/._cat.png": b"\x00\x05\x16\x07junk",
            ".DS_Store": b"\x00\x00\x00\x01Bud1",
            "photos/.hidden.png": b"not even an image",
        }
    )
    dataset = load_dataset(data)
    assert dataset.captioned
    by_name = {s.name: s for s in dataset.samples}
    assert sorted(by_name) == ["bird.webp", "cat.png", "photos/dog.JPG"]
    assert by_name["cat.png"].caption == "a cat on a sofa"
    assert by_name["photos/dog.JPG"].caption == "a dog"
    assert by_name["bird.webp"].caption is None
    assert all(decoded(s.image_png).mode == "RGB" for s in dataset.samples)


def test_zip_without_captions_is_not_captioned() -> None:
    data = make_zip({"a.png": encoded("PNG"), "b.png": encoded("PNG", seed=1), "c.txt": b""})
    with pytest.raises(InvalidRequest, match=r"c\.txt"):
        load_dataset(data)  # an orphan caption is a mistake worth telling about
    dataset = load_dataset(make_zip({"a.png": encoded("PNG"), "b.png": encoded("PNG", seed=1)}))
    assert not dataset.captioned
    assert len(dataset.samples) == 2


def test_empty_caption_counts_as_no_caption() -> None:
    dataset = load_dataset(make_zip({"a.png": encoded("PNG"), "a.txt": b"  \n"}))
    assert dataset.samples[0].caption is None
    assert not dataset.captioned


def test_neither_image_nor_zip() -> None:
    refused(b"%PDF-1.7 definitely not a picture", "neither a zip archive nor")
    refused(b"", "neither")


def test_corrupt_zip() -> None:
    refused(b"PK\x03\x04" + b"\x01" * 200, "not a valid zip")


def test_empty_zip() -> None:
    refused(make_zip({}), "no images")


def test_text_only_zip() -> None:
    refused(make_zip({"readme.txt": b"hello"}), "no images")


def test_too_many_files() -> None:
    entries = {f"{i}.png": encoded("PNG", size=(4, 4), seed=i) for i in range(4)}
    refused(make_zip(entries), "4 files", "limit of 3", limits=DatasetLimits(max_files=3))


def test_single_file_too_large() -> None:
    refused(encoded("PNG"), "over the limit of 100", limits=DatasetLimits(max_file_bytes=100))


def test_zip_entry_declared_too_large() -> None:
    data = make_zip({"big.png": encoded("PNG", size=(64, 64))}, zipfile.ZIP_STORED)
    refused(data, "big.png", "over the limit of 1000", limits=DatasetLimits(max_file_bytes=1000))


def test_zip_bomb_by_compression_ratio() -> None:
    bomb = make_zip({"bomb.png": b"\x00" * (5 * 1024 * 1024)})
    assert len(bomb) < 10_000
    refused(bomb, "bomb.png", "zip bomb")


def test_zip_bomb_by_total_size() -> None:
    entries = {f"{i}.png": encoded("PNG", size=(32, 32), seed=i) for i in range(5)}
    limits = DatasetLimits(max_total_bytes=4 * len(entries["0.png"]))
    refused(make_zip(entries, zipfile.ZIP_STORED), "unpacks to", limits=limits)


def test_zip_bomb_of_a_huge_file() -> None:
    bomb = make_zip({"huge.png": b"\x00" * (21 * 1024 * 1024)})
    refused(bomb, "huge.png", "over the limit")


def test_header_that_understates_the_size_is_refused() -> None:
    content = encoded("PNG", size=(32, 32))
    data = bytearray(make_zip({"a.png": content}, zipfile.ZIP_STORED))
    # Rewrite the declared uncompressed size in both headers to half the truth.
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.index(signature) + offset
        data[at : at + 4] = (len(content) // 2).to_bytes(4, "little")
    with pytest.raises(InvalidRequest):
        load_dataset(bytes(data))


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../evil.png", "path traversal"),
        ("ok/../../evil.png", "path traversal"),
        ("..\\evil.png", "path traversal"),
        ("/etc/x.png", "absolute path"),
        ("\\windows\\x.png", "absolute path"),
        ("C:/x.png", "drive letter"),
    ],
)
def test_unsafe_entry_names_refuse_the_whole_zip(name: str, reason: str) -> None:
    data = make_zip({"good.png": encoded("PNG"), name: encoded("PNG", seed=1)})
    refused(data, name, reason)


def test_unsafe_name_refused_even_where_it_would_be_ignored() -> None:
    data = make_zip({"good.png": encoded("PNG"), "__MACOSX/../../x": b"x"})
    refused(data, "path traversal")


def test_symlink_entry_refuses_the_zip() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("good.png", encoded("PNG"))
        link = zipfile.ZipInfo("link.png")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    refused(out.getvalue(), "link.png", "symbolic link")


def test_encrypted_entry_refused() -> None:
    data = bytearray(make_zip({"secret.png": encoded("PNG")}))
    # zipfile cannot write encrypted entries; set the "encrypted" flag bit in both headers.
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        data[data.index(signature) + offset] |= 0x1
    refused(bytes(data), "secret.png", "encrypted")


def test_unknown_compression_method_refused() -> None:
    data = bytearray(make_zip({"a.png": encoded("PNG")}))
    # Method 99 is WinZip AES, which zipfile cannot read.
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        at = data.index(signature) + offset
        data[at : at + 2] = (99).to_bytes(2, "little")
    refused(bytes(data), "a.png", "compression method 99")


def test_non_image_file_in_zip_refused() -> None:
    data = make_zip({"a.png": encoded("PNG"), "notes.pdf": b"%PDF-1.7"})
    refused(data, "notes.pdf", "not an image")


def test_image_that_does_not_decode() -> None:
    data = make_zip({"a.png": encoded("PNG"), "fake.jpg": b"this is text, not a JPEG"})
    refused(data, "fake.jpg", "not a readable image")


def test_unsupported_image_format_does_not_decode() -> None:
    refused(make_zip({"a.png": encoded("BMP")}), "a.png", "not a readable image")


def test_image_over_max_pixels() -> None:
    limits = DatasetLimits(max_pixels=20 * 20)
    refused(
        make_zip({"a.png": encoded("PNG", size=(21, 20))}), "a.png", "420 pixels", limits=limits
    )
    message = refused(encoded("PNG", size=(21, 20)), "21x20 = 420 pixels", limits=limits)
    assert "neither" not in message


def test_caption_not_utf8() -> None:
    data = make_zip({"a.png": encoded("PNG"), "a.txt": b"\xff\xfe\xc3("})
    refused(data, "a.txt", "not UTF-8")


def test_caption_with_binary_content() -> None:
    data = make_zip({"a.png": encoded("PNG"), "a.txt": b"cat\x00\x01\x02"})
    refused(data, "a.txt", "not plain text")


def test_caption_too_long() -> None:
    data = make_zip({"a.png": encoded("PNG"), "a.txt": ("word " * 401).encode()})
    refused(data, "a.txt", "2000")
    refused(make_zip({"a.png": encoded("PNG"), "a.txt": b"x" * 10_000}), "a.txt", "2000")


def test_caption_of_2000_characters_is_fine() -> None:
    dataset = load_dataset(make_zip({"a.png": encoded("PNG"), "a.txt": ("é" * 2000).encode()}))
    assert dataset.samples[0].caption == "é" * 2000


def test_two_images_sharing_a_stem() -> None:
    data = make_zip({"a.png": encoded("PNG"), "a.jpg": encoded("JPEG")})
    refused(data, "a.jpg", "a.png")


def test_custom_field_name_in_messages() -> None:
    with pytest.raises(InvalidRequest, match=r"^dataset"):
        load_dataset(b"nope", what="dataset")
