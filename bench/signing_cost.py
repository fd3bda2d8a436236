"""What content credentials cost per output: encoding alone vs encoding plus signing a C2PA
manifest (c2pa-python, the self-made ES256 signer), the bytes the manifest adds, and reading
it back (what `fluxserve verify` and the status endpoint do), for PNG, JPEG and WebP.

    python bench/signing_cost.py                 # 256 and 1024, 7 repetitions each
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from benchlib import machine, machine_line, markdown_table, summary, timed, write_json
from encode_cost import contents

from fluxserve.provenance.facts import OutputFacts
from fluxserve.provenance.reader import read_credentials
from fluxserve.provenance.setup import open_signer
from fluxserve.provenance.signer import ContentSigner, Signing
from fluxserve.settings import ProvenanceConfig
from fluxserve.storage.encode import encode_image

FORMATS = ("png", "jpeg", "webp")
FACTS = OutputFacts(
    request_id="flux-dev_0190b8a0-0000-7000-8000-000000000001",
    model_id="flux-dev",
    engine_model="flux1-dev",
    operation="text_to_image",
    lora_count=0,
    prompt="bench",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--work-dir", type=Path, help="where the self-made signer is kept")
    parser.add_argument("--json", type=Path, dest="json_path", help="also write results here")
    return parser.parse_args(argv)


def measure(signer: ContentSigner, size: int, fmt: str, repeats: int) -> dict[str, Any]:
    image = contents(size)["photo-like"]
    signing = Signing(signer, FACTS)
    plain = encode_image(image, fmt).data
    signed = encode_image(image, fmt, signing=signing).data
    assert read_credentials(signed).validation_state == "Valid"
    encode = summary([timed(lambda: encode_image(image, fmt)) for _ in range(repeats)])["p50"]
    both = summary(
        [timed(lambda: encode_image(image, fmt, signing=signing)) for _ in range(repeats)]
    )["p50"]
    content_type = encode_image(image, fmt).content_type
    # Timed on its own: on a busy machine the difference of two p50s is mostly noise.
    sign = summary(
        [timed(lambda: signer.sign(plain, content_type, FACTS)) for _ in range(repeats)]
    )["p50"]
    read = summary([timed(lambda: read_credentials(signed)) for _ in range(repeats)])["p50"]
    return {
        "encode": encode,
        "encode_and_sign": both,
        "sign": sign,
        "read_and_validate": read,
        "plain_bytes": len(plain),
        "added_bytes": len(signed) - len(plain),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        signer = open_signer(ProvenanceConfig(), args.work_dir or Path(scratch), {})
        assert signer is not None
        results = {
            f"{size}/{fmt}": measure(signer, size, fmt, args.repeats)
            for size in args.sizes
            for fmt in FORMATS
        }
    rows = [
        [
            key.replace("/", "² "),
            f"{r['encode'] * 1000:.1f}",
            f"{r['encode_and_sign'] * 1000:.1f}",
            f"{r['sign'] * 1000:.1f}",
            f"{r['read_and_validate'] * 1000:.1f}",
            f"{r['added_bytes'] / 1000:.1f} (on {r['plain_bytes'] / 1e6:.2f} MB)",
        ]
        for key, r in results.items()
    ]
    headers = [
        "image",
        "encode ms",
        "encode + sign ms",
        "signing alone ms",
        "read + validate ms",
        "manifest KB",
    ]
    info = machine()
    print(f"## content-credentials cost per image (photo-like content), p50 of {args.repeats}")
    print(f"machine: {machine_line(info)}\n")
    print(markdown_table(headers, rows))
    write_json(
        args.json_path,
        {"bench": "signing_cost", "options": vars(args), "machine": info, "results": results},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
