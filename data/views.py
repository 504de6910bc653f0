"""Test-time augmentation: fixed views of a test batch (N, H, W, C) whose predictions are
averaged with the image's own (nn/evaluate.py, make_eval_step's ``views``; --tta). Each is
exact: a mirror image, or a shift by a whole pixel that brings in background (0, as data.load
makes it; standardised images would need -mean/std) at the edge."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

Array = jax.Array


def mirror(x: Array) -> Array:
    """(N, H, W, C) -> the left-right mirror images."""
    return x[:, :, ::-1, :]


def shifted(dy: int, dx: int) -> Callable[[Array], Array]:
    """A view that moves every image dy pixels down and dx to the right, filling with 0."""

    def shift(x: Array) -> Array:
        h, w = x.shape[1], x.shape[2]
        pad = ((0, 0), (max(dy, 0), max(-dy, 0)), (max(dx, 0), max(-dx, 0)), (0, 0))
        top, left = max(-dy, 0), max(-dx, 0)
        return jnp.pad(x, pad)[:, top : top + h, left : left + w, :]

    return shift


TEST_VIEWS: dict[str, tuple[Callable[[Array], Array], ...]] = {
    "none": (),
    "flip": (mirror,),  # clothing: a mirrored garment is the same garment
    "shifts": (shifted(1, 0), shifted(-1, 0), shifted(0, 1), shifted(0, -1)),  # one pixel
}
