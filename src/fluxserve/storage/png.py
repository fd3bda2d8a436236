"""A PNG writer for generated images that deflates on every core.

Pillow picks a filter for each row by trying all five, which costs more than the deflate that
follows (a 1024² noise image: ~110 ms at zlib level 1, ~55 ms of it filtering even at level 0).
Here every row takes the Sub filter (numpy, under 1 ms for 1024²; on gradients and photos it
compresses about as well as Pillow's choice), and the filtered bytes are deflated in slices on
several threads (zlib releases the GIL) that join into one zlib stream, as pigz does: each slice
but the last ends on a byte boundary (a sync flush), and the stream's Adler-32 is computed
once over all of it. Any decoder reads the result; tests compare pixels with Pillow's."""

from __future__ import annotations

import os
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

# 8-bit modes written here, with their PNG colour type; anything else goes to Pillow.
COLOUR_TYPES = {"L": 0, "RGB": 2, "LA": 4, "RGBA": 6}
_SUB = 1  # PNG filter type: each byte minus the byte one pixel to its left
_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_ZLIB_HEADER = b"\x78\x01"  # deflate, 32 KiB window, "fastest" level hint
SLICE_BYTES = 1 << 20  # below this a slice is not worth a thread
_WINDOW = 32 * 1024  # deflate's reach back


def writable(image: Image.Image) -> bool:
    """8-bit pixels and nothing else to carry (a transparent colour or an ICC profile is
    Pillow's to write)."""
    return image.mode in COLOUR_TYPES and not {"transparency", "icc_profile"} & image.info.keys()


def encode_png(
    image: Image.Image,
    level: int = 1,
    threads: int | None = None,
    slice_bytes: int = SLICE_BYTES,
) -> bytes:
    """`image` (mode L, LA, RGB or RGBA) as PNG bytes, deflated at zlib `level` in slices of at
    least `slice_bytes` on up to `threads` threads (default: the cores)."""
    if not writable(image):
        raise ValueError(f"mode {image.mode} is not written here; use Pillow")
    pixels = np.asarray(image, dtype=np.uint8)
    height, width = pixels.shape[0], pixels.shape[1]
    filtered = _sub_filtered(pixels.reshape(height, -1), len(image.getbands()))
    header = struct.pack(">IIBBBBB", width, height, 8, COLOUR_TYPES[image.mode], 0, 0, 0)
    stream = _zlib(filtered.tobytes(), level, threads, slice_bytes)
    return b"".join(
        (_SIGNATURE, _chunk(b"IHDR", header), _chunk(b"IDAT", stream), _chunk(b"IEND", b""))
    )


def _sub_filtered(rows: np.ndarray, bytes_per_pixel: int) -> np.ndarray:
    """Each row prefixed by its filter type, its bytes minus their left neighbour's (mod 256)."""
    out = np.empty((rows.shape[0], rows.shape[1] + 1), dtype=np.uint8)
    out[:, 0] = _SUB
    out[:, 1 : 1 + bytes_per_pixel] = rows[:, :bytes_per_pixel]
    np.subtract(
        rows[:, bytes_per_pixel:], rows[:, :-bytes_per_pixel], out=out[:, 1 + bytes_per_pixel :]
    )
    return out


def _zlib(data: bytes, level: int, threads: int | None, slice_bytes: int) -> bytes:
    count = max(1, min(threads or os.cpu_count() or 1, len(data) // slice_bytes))
    if count == 1:
        return zlib.compress(data, level)
    step = -(-len(data) // count)
    slices = [memoryview(data)[start : start + step] for start in range(0, len(data), step)]
    last = len(slices) - 1
    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="png") as pool:
        parts = list(pool.map(lambda i: _deflate(slices, i, level, i == last), range(len(slices))))
    return b"".join((_ZLIB_HEADER, *parts, struct.pack(">I", zlib.adler32(data))))


def _deflate(slices: list[memoryview], index: int, level: int, last: bool) -> bytes:
    """Raw deflate of one slice, primed with the 32 KiB before it (which the decoder will have
    just written, so matches may reach back into it); a sync flush ends a middle slice on a
    byte boundary, so that the next slice's blocks follow it in the same stream."""
    window = bytes(slices[index - 1][-_WINDOW:]) if index else b""
    compressor = (
        zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS, zdict=window)
        if window
        else zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    )
    flush = zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH
    return compressor.compress(slices[index]) + compressor.flush(flush)


def _chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(body, zlib.crc32(kind))
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)
