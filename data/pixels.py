"""Pixel-wise changes of augmentation (data/augment.py): stroke thickness (grey dilation and
erosion), Gaussian blur and random erasing of a batch of images (N, H, W, C)."""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp

from data.warp import gaussian_matrix

Array = jax.Array


def stroke_width(x: Array, amount: Array, steps: float, fill: float) -> Array:
    """Grey dilation (amount > 0) or erosion (< 0) of every image by |amount| (N,) steps, each
    step the max (min) over a pixel and its four neighbours; fractional amounts interpolate
    between whole steps. x (N, H, W, C) -> same."""
    k = math.ceil(steps)

    def step(y: Array, reduce: Callable) -> Array:  # one dilation (jnp.maximum) or erosion
        p = jnp.pad(y, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=fill)
        out = y
        for dr, dc in ((0, 1), (2, 1), (1, 0), (1, 2)):  # up, down, left, right neighbour
            out = reduce(out, p[:, dr : dr + y.shape[1], dc : dc + y.shape[2]])
        return out

    levels = [x]  # level j holds j steps: erosions at -1..-k, dilations at 1..k
    thick, thin = x, x
    for _ in range(k):
        thick, thin = step(thick, jnp.maximum), step(thin, jnp.minimum)
        levels = [thin, *levels, thick]
    stack = jnp.stack(levels)  # (2k + 1, N, H, W, C), level j at index j + k
    pos = jnp.clip(amount + k, 0, 2 * k)  # (N,)
    lo = jnp.clip(jnp.floor(pos), 0, 2 * k - 1)  # (N,) the whole steps below pos, as a level
    frac = (pos - lo)[:, None, None, None]  # (N, 1, 1, 1)
    lo = lo.astype(jnp.int32)
    pick = lambda j: jax.vmap(lambda s, i: s[i], in_axes=(1, 0))(stack, j)  # noqa: E731
    return (1 - frac) * pick(lo) + frac * pick(lo + 1)


def gaussian_blur(x: Array, sigma: Array) -> Array:
    """x (N, H, W, C) blurred with std sigma (N,) pixels: G_n x_n G_n^T with row-normalised G,
    so each output is a weighted mean of inputs; sigma 0 leaves the image unchanged."""
    gh = gaussian_matrix(x.shape[1], sigma, True)  # (N, H, H)
    gw = gaussian_matrix(x.shape[2], sigma, True)  # (N, W, W)
    return jnp.einsum("nhk,nklc,nwl->nhwc", gh, x, gw)


def random_erase(x: Array, u: Array, prob: float, max_area: float, fill: float) -> Array:
    """With probability ``prob`` per image, set one rectangle to ``fill``: its area uniform in
    [0.02, max_area] of the image, aspect ratio log-uniform in [1/3, 3], placed uniformly so
    that it fits (Zhong et al., 2017, with the background instead of noise). u (N, 5) holds
    uniform [0, 1) draws for (whether, area, ratio, top, left); x (N, H, W, C) -> same."""
    n, h, w, _ = x.shape
    on = u[:, 0] < prob  # (N,)
    area = (0.02 + (max_area - 0.02) * u[:, 1]) * (h * w)  # (N,) pixels
    ratio = jnp.exp(math.log(3) * (2 * u[:, 2] - 1))  # (N,) height / width
    eh = jnp.clip(jnp.round(jnp.sqrt(area * ratio)), 1, h)  # (N,) rectangle height
    ew = jnp.clip(jnp.round(jnp.sqrt(area / ratio)), 1, w)  # (N,) rectangle width
    top = jnp.floor(u[:, 3] * (h - eh + 1))  # (N,) in [0, H - eh]
    left = jnp.floor(u[:, 4] * (w - ew + 1))  # (N,) in [0, W - ew]
    r = jnp.arange(h, dtype=jnp.float32)[None, :, None]  # (1, H, 1)
    c = jnp.arange(w, dtype=jnp.float32)[None, None, :]  # (1, 1, W)
    col = lambda v: v[:, None, None]  # noqa: E731  (N,) -> (N, 1, 1)
    inside = (r >= col(top)) & (r < col(top + eh)) & (c >= col(left)) & (c < col(left + ew))
    erase = (inside & col(on))[..., None]  # (N, H, W, 1)
    return jnp.where(erase, jnp.asarray(fill, x.dtype), x)
