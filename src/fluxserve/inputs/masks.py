"""Masks in OpenAI's convention turned into FLUX Fill's: OpenAI marks the area to repaint with
transparency, FLUX Fill with white. Call after `decode_image` has checked the data."""

from __future__ import annotations

import io

from PIL import Image

_OPAQUE_ENOUGH = 128


def has_alpha(image: Image.Image) -> bool:
    return "A" in image.getbands() or "transparency" in image.info


def fill_mask_png(data: bytes) -> bytes:
    """A grayscale PNG, white where the image is repainted. A mask with transparency is read
    as OpenAI's (transparent = repaint); one without as FLUX's own (white = repaint)."""
    with Image.open(io.BytesIO(data)) as image:
        image.seek(0)
        if has_alpha(image):
            alpha = image.convert("RGBA").getchannel("A")
            mask = alpha.point(lambda a: 0 if a >= _OPAQUE_ENOUGH else 255)
        else:
            mask = image.convert("L")
    out = io.BytesIO()
    mask.save(out, format="PNG")
    return out.getvalue()
