"""Training datasets: one image, or a zip of images with optional `name.txt` captions.

Everything happens in memory: the zip is read from a BytesIO and nothing is ever extracted to
disk. Every way a hostile archive can hurt (bombs, traversal, symlinks, huge images) is refused
with an InvalidRequest that names the request field and the offending entry."""

from __future__ import annotations

import io
import stat
import zipfile
import zlib
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from fluxserve.errors import InvalidRequest

IMAGE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")
CAPTION_SUFFIX = ".txt"
MAX_CAPTION_CHARS = 2000
_MAX_CAPTION_BYTES = MAX_CAPTION_CHARS * 4 + 3  # UTF-8 at its widest, plus a byte-order mark
# Small entries may compress extremely well (a caption of one repeated letter) and are harmless;
# the ratio guard is for entries big enough to matter.
_RATIO_CHECK_MIN_BYTES = 1024 * 1024
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)


@dataclass(frozen=True)
class DatasetLimits:
    """Upper bounds on what one dataset may hold."""

    max_files: int = 200
    max_file_bytes: int = 20 * 1024 * 1024
    max_total_bytes: int = 200 * 1024 * 1024
    max_pixels: int = 40_000_000
    max_ratio: int = 200  # uncompressed / compressed size of one zip entry


@dataclass(frozen=True)
class TrainingSample:
    """One training image, normalised to RGB PNG, with its caption if it had one."""

    name: str
    image_png: bytes
    caption: str | None


@dataclass(frozen=True)
class TrainingDataset:
    samples: tuple[TrainingSample, ...]
    captioned: bool  # True when at least one sample has a caption


def load_dataset(
    data: bytes, *, what: str = "image_data_url", limits: DatasetLimits = DatasetLimits()
) -> TrainingDataset:
    """Read one image (JPEG/PNG/GIF/WebP) or a zip of them into a TrainingDataset.

    In a zip, `dir/name.txt` is the caption of `dir/name.png` (or .jpg, .jpeg, .gif, .webp);
    `__MACOSX/` and dotfiles are ignored. Raises InvalidRequest, naming `what`, for anything
    that is not a usable, safe dataset."""
    if data.startswith(_ZIP_MAGICS):
        return _load_zip(data, what, limits)
    if len(data) > limits.max_file_bytes:
        raise InvalidRequest(
            f"{what}: the file is {len(data)} bytes, over the limit of {limits.max_file_bytes}"
        )
    try:
        image_png = _normalise_image(data, limits, what)
    except _Undecodable as exc:
        raise InvalidRequest(
            f"{what} is neither a zip archive nor a JPEG, PNG, GIF or WebP image ({exc})"
        ) from None
    return TrainingDataset(samples=(TrainingSample("image", image_png, None),), captioned=False)


class _Undecodable(Exception):
    """Bytes that no allowed image decoder reads; the caller says what they were meant to be."""


def _normalise_image(data: bytes, limits: DatasetLimits, where: str) -> bytes:
    """RGB PNG bytes of the (first frame of the) image, upright as its EXIF says."""
    try:
        with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as img:
            width, height = img.size
            # Checked before any pixel is decoded: the header alone says how big it would be.
            if width * height > limits.max_pixels:
                raise InvalidRequest(
                    f"{where}: the image is {width}x{height} = {width * height} pixels, over "
                    f"the limit of {limits.max_pixels}"
                )
            img.seek(0)  # animated GIF/WebP: the first frame
            upright = ImageOps.exif_transpose(img).convert("RGB")
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as exc:
        raise _Undecodable(f"not a readable image: {exc}") from None
    out = io.BytesIO()
    # Lossless either way; level 1 encodes large photos about twice as fast as the default.
    upright.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def _load_zip(data: bytes, what: str, limits: DatasetLimits) -> TrainingDataset:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = _checked_entries(archive.infolist(), what, limits)
            contents = {info.filename: _read_entry(archive, info, what, limits) for info in entries}
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise InvalidRequest(f"{what} is not a valid zip archive: {exc}") from None
    return _pair_samples(contents, what, limits)


def _checked_entries(
    infos: list[zipfile.ZipInfo], what: str, limits: DatasetLimits
) -> list[zipfile.ZipInfo]:
    """The entries to read, after refusing the whole zip if any entry is unsafe."""
    for info in infos:
        _refuse_unsafe_name(info, what)
    entries = [info for info in infos if not info.is_dir() and not _ignored(info.filename)]
    if len(entries) > limits.max_files:
        raise InvalidRequest(
            f"{what}: the zip holds {len(entries)} files, over the limit of {limits.max_files}"
        )
    total = 0
    for info in entries:
        _refuse_bad_entry(info, what, limits)
        total += info.file_size
    if total > limits.max_total_bytes:
        raise InvalidRequest(
            f"{what}: the zip unpacks to {total} bytes, over the limit of {limits.max_total_bytes}"
        )
    return entries


def _refuse_unsafe_name(info: zipfile.ZipInfo, what: str) -> None:
    name = info.filename
    parts = name.replace("\\", "/").split("/")
    reason = None
    if name.startswith(("/", "\\")):
        reason = "an absolute path"
    elif len(name) >= 2 and name[1] == ":":
        reason = "a drive letter"
    elif ".." in parts:
        reason = "path traversal"
    elif "\x00" in name:
        reason = "a NUL character"
    elif stat.S_ISLNK(info.external_attr >> 16):
        reason = "a symbolic link"
    if reason:
        raise InvalidRequest(f"{what}: zip entry '{name}' is {reason}; the zip is refused")


def _ignored(name: str) -> bool:
    parts = name.split("/")
    return parts[0] == "__MACOSX" or any(part.startswith(".") for part in parts)


def _refuse_bad_entry(info: zipfile.ZipInfo, what: str, limits: DatasetLimits) -> None:
    name = info.filename
    reason = _unreadable(info) or _oversized(info, limits)
    if reason is None and not name.lower().endswith((*IMAGE_SUFFIXES, CAPTION_SUFFIX)):
        reason = "is not an image (.png, .jpg, .jpeg, .gif, .webp) or a caption (.txt)"
    if reason is not None:
        raise InvalidRequest(f"{what}: zip entry '{name}' {reason}")


def _unreadable(info: zipfile.ZipInfo) -> str | None:
    if info.flag_bits & 0x1:
        return "is encrypted; encrypted zips are refused"
    if info.compress_type not in _COMPRESSIONS:
        return (
            f"uses compression method {info.compress_type}; "
            "only stored, deflate, bzip2 and LZMA entries are read"
        )
    return None


def _oversized(info: zipfile.ZipInfo, limits: DatasetLimits) -> str | None:
    size = info.file_size
    if size > limits.max_file_bytes:
        return f"is {size} bytes, over the limit of {limits.max_file_bytes}"
    if info.filename.lower().endswith(CAPTION_SUFFIX) and size > _MAX_CAPTION_BYTES:
        return f"is {size} bytes, too long for a caption of at most {MAX_CAPTION_CHARS} characters"
    ratio = size // max(info.compress_size, 1)
    if size >= _RATIO_CHECK_MIN_BYTES and ratio > limits.max_ratio:
        return f"expands {ratio} times, over the limit of {limits.max_ratio} (zip bomb)"
    return None


def _read_entry(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, what: str, limits: DatasetLimits
) -> bytes:
    # The declared size was checked already; a lying header must not get past the read either.
    limit = min(info.file_size, limits.max_file_bytes)
    with archive.open(info) as stream:
        content = stream.read(limit + 1)
    if len(content) > limit:
        raise InvalidRequest(
            f"{what}: zip entry '{info.filename}' holds more bytes than its header declares"
        )
    return content


def _pair_samples(contents: dict[str, bytes], what: str, limits: DatasetLimits) -> TrainingDataset:
    images: dict[str, str] = {}
    captions: dict[str, str] = {}
    for name in sorted(contents):
        stem, _, suffix = name.rpartition(".")
        if f".{suffix.lower()}" == CAPTION_SUFFIX:
            captions[stem] = name
        elif stem in images:
            raise InvalidRequest(
                f"{what}: zip entries '{images[stem]}' and '{name}' share a name; "
                "captions could not be paired"
            )
        else:
            images[stem] = name
    if not images:
        raise InvalidRequest(f"{what}: the zip holds no images (.png, .jpg, .jpeg, .gif, .webp)")
    orphans = sorted(name for stem, name in captions.items() if stem not in images)
    if orphans:
        raise InvalidRequest(f"{what}: caption '{orphans[0]}' has no image of the same name")
    samples = tuple(
        TrainingSample(
            name=name,
            image_png=_zip_image(name, contents[name], what, limits),
            caption=_caption(captions[stem], contents[captions[stem]], what)
            if stem in captions
            else None,
        )
        for stem, name in sorted(images.items())
    )
    return TrainingDataset(samples=samples, captioned=any(s.caption is not None for s in samples))


def _zip_image(name: str, data: bytes, what: str, limits: DatasetLimits) -> bytes:
    where = f"{what}: zip entry '{name}'"
    try:
        return _normalise_image(data, limits, where)
    except _Undecodable as exc:
        raise InvalidRequest(f"{where}: {exc}") from None


def _caption(name: str, data: bytes, what: str) -> str | None:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidRequest(f"{what}: caption '{name}' is not UTF-8 text") from None
    if _has_binary(text):
        raise InvalidRequest(f"{what}: caption '{name}' is not plain text")
    text = text.strip()
    if len(text) > MAX_CAPTION_CHARS:
        raise InvalidRequest(
            f"{what}: caption '{name}' is {len(text)} characters, over the limit of "
            f"{MAX_CAPTION_CHARS}"
        )
    return text or None


def _has_binary(text: str) -> bool:
    """Control characters other than ordinary whitespace mean this is not prose."""
    return any(ord(ch) < 32 and ch not in "\t\n\r" for ch in text)
