"""What moving one output image costs on the request path: PNG at zlib level 6 (PIL's default,
used for the engine pipe and for stored PNG outputs), PNG at level 1, PNG decode, and raw pixels
(`tobytes` + pickle round trip + `frombytes`, what a pipe could carry instead).

Two contents: uniform noise (what the demo weights produce: incompressible) and a smooth,
photo-like stand-in (gradients, blurred noise, fine grain), closer to what real weights produce.

    python bench/encode_cost.py                 # 256 and 1024, 7 repetitions each
"""

from __future__ import annotations

import argparse
import io
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from benchlib import machine, machine_line, markdown_table, summary, timed, write_json
from PIL import Image, ImageFilter


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--work-dir", type=Path, help="unused; accepted like the other scripts")
    parser.add_argument("--json", type=Path, dest="json_path", help="also write results here")
    return parser.parse_args(argv)


def contents(size: int) -> dict[str, Image.Image]:
    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8), "RGB")
    ys, xs = np.mgrid[0:size, 0:size] / max(size - 1, 1)
    gradient = np.stack([xs, ys, 1 - xs * ys], axis=-1) * 200
    blurred = np.asarray(noise.filter(ImageFilter.GaussianBlur(size / 170)), np.float64)
    grain = rng.normal(0, 3, (size, size, 3))
    smooth = np.clip(gradient * 0.6 + blurred * 0.4 + grain, 0, 255).astype(np.uint8)
    return {"noise (demo output)": noise, "photo-like": Image.fromarray(smooth, "RGB")}


def png(image: Image.Image, level: int) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=level)
    return out.getvalue()


def decode(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.copy()


def raw_round_trip(image: Image.Image) -> Image.Image:
    wire = pickle.loads(pickle.dumps((image.mode, image.size, image.tobytes()), protocol=5))
    return Image.frombytes(*wire)


def measure(image: Image.Image, repeats: int) -> dict[str, Any]:
    encoded = png(image, 6)
    calls: dict[str, Callable[[], object]] = {
        "png6_encode": lambda: png(image, 6),
        "png1_encode": lambda: png(image, 1),
        "png_decode": lambda: decode(encoded),
        "raw_round_trip": lambda: raw_round_trip(image),
    }
    result: dict[str, Any] = {
        name: summary([timed(call) for _ in range(repeats)])["p50"] for name, call in calls.items()
    }
    result["png6_mb"] = len(encoded) / 1e6
    result["png1_mb"] = len(png(image, 1)) / 1e6
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = {
        f"{size}/{name}": measure(image, args.repeats)
        for size in args.sizes
        for name, image in contents(size).items()
    }
    rows = [
        [
            key.replace("/", "² "),
            f"{r['png6_encode'] * 1000:.1f} ({r['png6_mb']:.2f} MB)",
            f"{r['png1_encode'] * 1000:.1f} ({r['png1_mb']:.2f} MB)",
            f"{r['png_decode'] * 1000:.1f}",
            f"{r['raw_round_trip'] * 1000:.1f}",
        ]
        for key, r in results.items()
    ]
    headers = [
        "image",
        "PNG level 6 encode ms (size)",
        "PNG level 1 encode ms (size)",
        "PNG decode ms",
        "raw pixels round trip ms",
    ]
    info = machine()
    print(f"## encoding cost per image, p50 of {args.repeats}")
    print(f"machine: {machine_line(info)}\n")
    print(markdown_table(headers, rows))
    write_json(
        args.json_path,
        {"bench": "encode_cost", "options": vars(args), "machine": info, "results": results},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
