"""A picture's ink framed as a dataset's 28x28 picture, the way that dataset was made: for
MNIST (LeCun et al.), cropped to the digit, scaled to fit 20x20 keeping its aspect ratio, and
placed so that its centre of mass sits at the centre of the 28x28 field; for Fashion-MNIST (Xiao
et al.), trimmed, the longer side scaled to 28, the bounding box centred.

The ink comes from data/paper.py (measured from the paper's local level, inverted when the ink
is darker than the paper, as MNIST's digits are light on black); Pillow does the resampling.
"""

from __future__ import annotations

import numpy as np

from data.images import pillow
from data.paper import ink_of
from data.registry import Framing, get_dataset

MNIST_FRAMING = get_dataset("mnist").framing  # fit 20x20, centre of mass at the centre
INK = MNIST_FRAMING.trim  # a pixel is part of a digit above this fraction of the contrast


def to_mnist(gray: np.ndarray, name: str = "image", framing: Framing = MNIST_FRAMING) -> np.ndarray:
    """(H, W) grayscale in [0, 1] -> (28, 28) float32, light digit on black, as in MNIST (or
    framed as ``framing`` says). The ink is measured from the paper's local level (``ink_of``),
    so that an unevenly lit page's shadow is not taken for part of the digit."""
    img = ink_of(gray, name)
    ink = img > framing.trim
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    crop = img[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]

    h, w = crop.shape
    scale = framing.side / max(h, w)  # the longer side becomes 20 pixels (MNIST)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))  # PIL wants (width, height)
    image_mod, _, _ = pillow()
    small = image_mod.fromarray(np.uint8(np.round(crop * 255))).resize(
        size, image_mod.Resampling.LANCZOS
    )
    patch = np.asarray(small, np.float32) / 255.0  # (h', w'), both <= framing.side

    if framing.by_mass:
        mass = patch.sum()
        cy = float((patch.sum(axis=1) * np.arange(patch.shape[0])).sum() / mass)
        cx = float((patch.sum(axis=0) * np.arange(patch.shape[1])).sum() / mass)
    else:  # the bounding box's centre
        cy, cx = (patch.shape[0] - 1) / 2, (patch.shape[1] - 1) / 2
    top = int(np.clip(round(13.5 - cy), 0, 28 - patch.shape[0]))  # (cy, cx) to (13.5, 13.5)
    left = int(np.clip(round(13.5 - cx), 0, 28 - patch.shape[1]))
    out = np.zeros((28, 28), np.float32)
    out[top : top + patch.shape[0], left : left + patch.shape[1]] = patch
    return out
