"""Images for the tests of augmentation and test-time views: random batches of a few shapes,
and a NumPy reference for a whole-pixel shift."""

import jax.numpy as jnp
import numpy as np
from hypothesis import strategies as st

# a few shapes, not every one: each new shape compiles every operation again
shapes = st.sampled_from([(1, 4, 4, 1), (2, 5, 7, 1), (3, 8, 6, 2), (2, 9, 9, 1)])


def images(shape, seed=0):
    return jnp.asarray(np.random.default_rng(seed).random(shape, dtype=np.float32))


def shifted(x, dy, dx, fill):
    """NumPy reference: content moves dy rows down and dx columns right; the rest is fill."""
    x = np.asarray(x)
    h, w = x.shape[1:3]
    rows, cols = np.arange(h) - dy, np.arange(w) - dx  # where each output pixel comes from
    inside = ((rows >= 0) & (rows < h))[:, None] & ((cols >= 0) & (cols < w))[None, :]
    moved = x[:, np.clip(rows, 0, h - 1)][:, :, np.clip(cols, 0, w - 1)]
    return np.where(inside[None, :, :, None], moved, np.float32(fill))
