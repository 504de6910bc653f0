"""Test-time augmentation: fixed views of a test batch (N, H, W, C) whose predictions are
averaged with the image's own (nn/evaluate.py, make_eval_step's ``views``; --tta). Each is
exact: a mirror image, or a shift by a whole pixel that brings in background (0, as data.load
makes it; standardised images would need -mean/std) at the edge.

Each view is linear in the image (a matrix A of 0s and 1s), so the saliency map of an averaged
prediction carries each view's input gradient back to the image with A's transpose
(experiments/predictor.py, nn/saliency.py's ``views_saliency``): ``view.transpose()`` is that
map, and ``carry_back`` sums the views' gradients carried back. A shift's transpose is the
opposite shift (the pixel moved in from outside has no source, the one moved out has no image),
the mirror's is the mirror.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp

Array = jax.Array


def mirror(x: Array) -> Array:
    """(N, H, W, C) -> the left-right mirror images."""
    return x[:, :, ::-1, :]


@dataclass(frozen=True)
class Mirror:
    """The left-right mirror image as a view: its own transpose (a permutation of the columns
    that undoes itself)."""

    def __call__(self, x: Array) -> Array:
        return mirror(x)

    def transpose(self) -> Mirror:
        return self


@dataclass(frozen=True)
class Shift:
    """A view that moves every image ``dy`` pixels down and ``dx`` to the right, filling
    with 0."""

    dy: int
    dx: int

    def __call__(self, x: Array) -> Array:
        dy, dx = self.dy, self.dx
        h, w = x.shape[1], x.shape[2]
        pad = ((0, 0), (max(dy, 0), max(-dy, 0)), (max(dx, 0), max(-dx, 0)), (0, 0))
        top, left = max(-dy, 0), max(-dx, 0)
        return jnp.pad(x, pad)[:, top : top + h, left : left + w, :]

    def transpose(self) -> Shift:
        """(V^T g)[i, j] = g[i + dy, j + dx] where that pixel exists, else 0: the opposite shift."""
        return Shift(-self.dy, -self.dx)


View = Mirror | Shift


def carry_back(views: Sequence[View], grads: Sequence[Array]) -> Array:
    """The gradient with respect to the image from the gradients with respect to its views'
    inputs, ``grads`` = [the image's own, then one per view]: sum_v A_v^T g_v."""
    own, *rest = grads
    return sum((v.transpose()(g) for v, g in zip(views, rest, strict=True)), own)


TEST_VIEWS: dict[str, tuple[View, ...]] = {
    "none": (),
    "flip": (Mirror(),),  # clothing: a mirrored garment is the same garment
    "shifts": (Shift(1, 0), Shift(-1, 0), Shift(0, 1), Shift(0, -1)),  # one pixel each way
}
