"""Where the ink is on a picture of a digit: its distance from the paper's level at each place,
the paper being fitted as a smooth surface, so that an unevenly lit page is not read as ink.
data/framing.py crops and frames what this finds."""

from __future__ import annotations

import numpy as np

from data.errors import ImageError

NOISE = 0.05  # below this fraction of the contrast a pixel is background


def paper(gray: np.ndarray) -> np.ndarray:
    """The picture's background (paper, or a dark screen) as a smooth surface: (H, W) float32,
    the quadratic in x and y closest to the border pixels, those far from it left out.

    A photograph is seldom evenly lit: a lamp to one side, a shadow or the lens's vignetting
    leave one side or the corners of the page darker, often by more than a fifth (INK) of the
    ink's contrast. Measured from one background level, that darker paper counts as ink and is
    cropped with the digit, which ends up small in a corner of the 28x28. Light that varies slowly
    across the page is, to second order, a quadratic in x and y, and a quadratic is fixed by its
    values along the border of a rectangle, where the paper is assumed to be anyway (the first
    term the border cannot see, x(1-x)y(1-y), is of degree 4). A sharp shadow edge across the
    page is not such a surface and is not corrected. On an evenly lit page the fit is the
    border's level, as a single median was before.
    """
    h, w = gray.shape

    def terms(y: np.ndarray, x: np.ndarray) -> list[np.ndarray]:  # 1, x, y, x^2, xy, y^2
        return [np.ones_like(x), x, y, x * x, x * y, y * y]

    ys, xs = np.linspace(0, 1, h), np.linspace(0, 1, w)  # the picture spans [0, 1] both ways
    by = np.concatenate([np.zeros(w), np.ones(w), ys, ys])  # top, bottom, left, right edges
    bx = np.concatenate([xs, xs, np.zeros(h), np.ones(h)])
    level = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]]).astype(np.float64)
    basis = np.stack(terms(by, bx), axis=1)  # (2H + 2W, 6)
    fit = np.full_like(level, np.median(level))  # first guess: one level, the border's median
    for _ in range(3):  # refit to the pixels near the last fit; ink touching the edge is not
        off = np.abs(level - fit)
        near = off <= 4 * np.median(off) + 0.002  # ~3 sigma of noise; + half an 8-bit grey level
        coef = np.linalg.lstsq(basis[near], level[near], rcond=None)[0]
        fit = basis @ coef
    y, x = ys.astype(np.float32)[:, None], xs.astype(np.float32)[None, :]  # (H, 1), (1, W)
    return sum(np.float32(c) * t for c, t in zip(coef, terms(y, x), strict=True))  # (H, W)


def ink_of(gray: np.ndarray, name: str = "image") -> np.ndarray:
    """(H, W) grayscale in [0, 1] -> (H, W) float32 in [0, 1]: how far each pixel is from the
    paper (``paper``) towards the ink, as a fraction of the largest such step; 0 below NOISE.
    The ink is on the side that differs most from the paper: darker on light paper (then the
    picture is inverted, as MNIST's digits are light on black), lighter on a dark screen. (Not
    "is the paper lighter than 0.5?": a dim or shadowed photo of white paper is often darker.)
    A picture with no ink is an ImageError."""
    diff = gray - paper(gray)  # (H, W): > 0 lighter than the paper there, < 0 darker
    light = -float(diff.min()) > float(diff.max())  # dark ink on light paper
    img = -diff if light else diff
    hi = float(img.max())
    if hi < 0.05:
        raise ImageError(f"{name} is blank: no digit or object found")
    img = np.clip(img / hi, 0.0, 1.0)  # background 0, ink 1
    img[img < NOISE] = 0.0  # paper texture and JPEG noise: MNIST's background is exactly 0
    return img
