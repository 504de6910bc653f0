"""Image files (PNG, JPEG, anything Pillow reads) as grayscale arrays: the first step of reading
a user's digit or photo; data/paper.py finds the ink on it and data/framing.py frames it as a
dataset's 28x28 picture.

Needs Pillow (an optional dependency: pip install -e '.[image]'). Every failure is an
ImageError whose message names the file and says what to do.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np

from data.errors import ImageError

MAX_PIXELS = 25_000_000  # larger pictures are refused before decoding (a 12-megapixel photo fits)


def pillow():  # noqa: ANN201  (Pillow is optional)
    """Pillow's Image, ImageOps and UnidentifiedImageError; an ImageError saying how to install
    it when it is missing."""
    try:
        from PIL import Image, ImageOps, UnidentifiedImageError
    except ImportError:
        raise ImageError("predicting images needs Pillow: pip install -e '.[image]'") from None
    return Image, ImageOps, UnidentifiedImageError


def read_gray(path: Path) -> np.ndarray:
    """The image file as float32 (H, W) in [0, 1]; one clear error for anything unreadable."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except OSError as e:
        raise ImageError(f"{path}: cannot read it ({e.strerror or type(e).__name__})") from None
    return decode_gray(data, str(path))


def decode_gray(data: bytes, name: str) -> np.ndarray:
    """Encoded image bytes (PNG, JPEG, ...) -> float32 (H, W) in [0, 1], turned upright as its
    EXIF orientation says. Transparent pixels become background: white behind dark ink, black
    behind light ink. Anything Pillow cannot read, or larger than MAX_PIXELS, is an ImageError."""
    image_mod, image_ops, unidentified = pillow()
    unreadable = (  # what Pillow raises on files it cannot decode
        unidentified,
        image_mod.DecompressionBombError,
        OSError,
        ValueError,
        SyntaxError,
        EOFError,
        struct.error,
    )
    try:
        with image_mod.open(io.BytesIO(data)) as im:
            if im.width * im.height > MAX_PIXELS:
                raise ImageError(
                    f"{name} is {im.width} x {im.height} pixels, more than the "
                    f"{MAX_PIXELS:,} read here: scale it down"
                )
            im = image_ops.exif_transpose(im)
            la = np.asarray(im.convert("LA"))  # (H, W, 2) uint8: gray level and opacity
    except unreadable as e:
        raise ImageError(
            f"{name} is not a readable image ({type(e).__name__}); "
            "expected a PNG, JPEG or other image file"
        ) from None
    gray = la[..., 0].astype(np.float32) / 255.0
    if la[..., 1].min() == 255:
        return gray
    alpha = la[..., 1].astype(np.float32) / 255.0
    ink = float((gray * alpha).sum() / max(float(alpha.sum()), 1.0))  # mean of what is opaque
    behind = np.float32(1.0 if ink < 0.5 else 0.0)
    return alpha * gray + (1.0 - alpha) * behind
