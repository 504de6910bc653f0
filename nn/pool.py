"""Pooling over PH x PW windows taken every SH rows and SW columns: the maximum (MaxPool2D) or
the mean (AvgPool2D) of each window, and the mean over the whole image (GlobalAveragePooling2D).

Shapes: N batch, H x W input, C channels, H' x W' output.
    H' = 1 + (H - PH) // SH,   W' = 1 + (W - PW) // SW     (Keras "valid" pooling)

Rows and columns that no window reaches (when (H - PH) is not a multiple of SH) are dropped
by the forward pass and get a zero gradient.

Both window poolings read the input through the PH*PW strided views of ``window_slice`` (one per
window offset (i, j)), and both backwards end the same way: each view's share of dy is put back
where that view came from (``unpool``).

Ties in max pooling. When several inputs of a window share its maximum, the whole gradient goes
to the first of them in row-major window order (smallest row, then smallest column). This is
deterministic and matches ``argmax``; frameworks differ here (XLA's reduce_window gradient picks
via select-and-scatter), and any choice is a valid subgradient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax.numpy as jnp

from nn.conv import place_window, window_slice
from nn.layer import Array, Key, Params, Shape, State, check_positive, pair


@dataclass(frozen=True)
class Pool2D:
    """What the window poolings share: the window geometry, its views, and ``unpool``."""

    pool_size: int | tuple[int, int] = 2  # (PH, PW); an int means square
    strides: int | tuple[int, int] | None = None  # (SH, SW); None means equal to pool_size

    def __post_init__(self) -> None:
        check_positive(f"{type(self).__name__} pool_size", *pair(self.pool_size))
        check_positive(f"{type(self).__name__} strides", *pair(self.stride_pair))

    @property
    def stride_pair(self) -> tuple[int, int]:
        return pair(self.pool_size if self.strides is None else self.strides)

    def output_hw(self, h: int, w: int) -> tuple[int, int]:
        (ph, pw), (sh, sw) = pair(self.pool_size), self.stride_pair
        return 1 + (h - ph) // sh, 1 + (w - pw) // sw

    def init(self, key: Array, in_shape: Shape) -> tuple[Params, State, Shape]:
        name = type(self).__name__
        if len(in_shape) != 3:
            raise ValueError(f"{name} expects (H, W, C) inputs, got {in_shape}")
        h, w, c = in_shape
        ph, pw = pair(self.pool_size)
        if h < ph or w < pw:
            raise ValueError(f"{name} window {ph}x{pw} does not fit a {h}x{w} input")
        return {}, {}, (*self.output_hw(h, w), c)

    def windows(self, x: Array) -> list[Array]:
        """The PH*PW strided views x[:, i + SH*h, j + SW*w, :], each (N, H', W', C), in
        row-major offset order (i, j)."""
        (ph, pw), strides = pair(self.pool_size), self.stride_pair
        out_hw = self.output_hw(x.shape[1], x.shape[2])
        return [window_slice(x, i, j, out_hw, strides) for i in range(ph) for j in range(pw)]

    def unpool(self, parts: list[Array], x_shape: tuple[int, ...]) -> Array:
        """Adjoint of ``windows``: the (N, H, W, C) sum of each view's part (N, H', W', C) placed
        back at rows i + SH*h, cols j + SW*w. Overlapping windows (S < P) may add several parts
        into one input; inputs that no window reaches get 0."""
        (ph, pw), strides = pair(self.pool_size), self.stride_pair
        if strides == (ph, pw):
            return self.tile_back(parts, x_shape)
        dx = jnp.zeros(x_shape, parts[0].dtype)
        for k, part in enumerate(parts):
            dx = dx + place_window(part, k // pw, k % pw, x_shape[1:3], strides)
        return dx

    def tile_back(self, parts: list[Array], x_shape: tuple[int, ...]) -> Array:
        """Non-overlapping windows (S = P) tile the input, so the parts interleave without sums:
        stack them to (N, H', PH, W', PW, C), merge to (N, H'*PH, W'*PW, C) and pad the rows and
        columns no window reached with zeros. One pass instead of PH*PW."""
        ph, pw = pair(self.pool_size)
        n, ho, wo, c = parts[0].shape
        grid = jnp.stack(parts).reshape(ph, pw, n, ho, wo, c)  # (PH, PW, N, H', W', C)
        tiled = grid.transpose(2, 3, 0, 4, 1, 5).reshape(n, ho * ph, wo * pw, c)
        h, w = x_shape[1], x_shape[2]
        return jnp.pad(tiled, ((0, 0), (0, h - ho * ph), (0, w - wo * pw), (0, 0)))


class MaxPoolCache(NamedTuple):
    x: Array  # (N, H, W, C) the input: backward finds which element of each window won
    y: Array  # (N, H', W', C) the output, i.e. each window's maximum


@dataclass(frozen=True)
class MaxPool2D(Pool2D):
    def forward(
        self, params: Params, state: State, x: Array, *, key: Key = None, train: bool = False
    ) -> tuple[Array, MaxPoolCache, State]:
        views = self.windows(x)
        y = views[0]
        for v in views[1:]:
            y = jnp.maximum(y, v)  # (N, H', W', C)
        return y, MaxPoolCache(x=x, y=y), state

    def backward(self, params: Params, cache: MaxPoolCache, dy: Array) -> tuple[Params, Array]:
        """Backward pass. dy = dL/dy (N, H', W', C).

        y = max over the window, so dy/dx is 1 for the (first) maximal element of the window and
        0 elsewhere: each window routes its dy to its winner. Visiting the window offsets in
        row-major order, offset (i, j) wins where its value equals the maximum and no earlier
        offset has won yet; its share is placed back where its view came from (``unpool``).
        dx has shape (N, H, W, C); inputs that are no window's winner get 0.
        """
        taken = jnp.zeros(cache.y.shape, bool)  # (N, H', W', C) window already routed
        routed = []  # per window offset, in row-major order: the dy it receives, (N, H', W', C)
        for view in self.windows(cache.x):
            wins = (view == cache.y) & ~taken
            taken = taken | wins
            routed.append(jnp.where(wins, dy, 0))
        return {}, self.unpool(routed, cache.x.shape)


class AvgPoolCache(NamedTuple):
    x: Array  # (N, H, W, C) the input; backward uses only its shape


@dataclass(frozen=True)
class AvgPool2D(Pool2D):
    def forward(
        self, params: Params, state: State, x: Array, *, key: Key = None, train: bool = False
    ) -> tuple[Array, AvgPoolCache, State]:
        views = self.windows(x)
        y = sum(views[1:], views[0]) / len(views)  # (N, H', W', C), the mean of each window
        return y, AvgPoolCache(x=x), state

    def backward(self, params: Params, cache: AvgPoolCache, dy: Array) -> tuple[Params, Array]:
        """Backward pass. dy = dL/dy (N, H', W', C).

        y[n, h, w, c] = (1 / (PH*PW)) * sum over offsets (i, j) of x[n, i + SH*h, j + SW*w, c],
        so every input of a window receives dy / (PH*PW) from it: each offset's view gets the
        same part dy / (PH*PW), placed back where the view came from (``unpool``, which adds the
        parts of overlapping windows). dx has shape (N, H, W, C).
        """
        ph, pw = pair(self.pool_size)
        part = dy / (ph * pw)
        return {}, self.unpool([part] * (ph * pw), cache.x.shape)


class GlobalPoolCache(NamedTuple):
    x: Array  # (N, H, W, C) the input; backward uses only its shape


@dataclass(frozen=True)
class GlobalAveragePooling2D:
    """(N, H, W, C) -> (N, C): the mean of each channel over the image, as Keras's layer."""

    def init(self, key: Array, in_shape: Shape) -> tuple[Params, State, Shape]:
        if len(in_shape) != 3:
            raise ValueError(f"GlobalAveragePooling2D expects (H, W, C) inputs, got {in_shape}")
        return {}, {}, (in_shape[-1],)

    def forward(
        self, params: Params, state: State, x: Array, *, key: Key = None, train: bool = False
    ) -> tuple[Array, GlobalPoolCache, State]:
        return jnp.mean(x, axis=(1, 2)), GlobalPoolCache(x=x), state  # (N, C)

    def backward(self, params: Params, cache: GlobalPoolCache, dy: Array) -> tuple[Params, Array]:
        """y[n, c] = (1 / (H*W)) sum_{h, w} x[n, h, w, c], so dx[n, h, w, c] = dy[n, c] / (H*W):
        dy spread evenly over the image. dx has shape (N, H, W, C)."""
        _, h, w, _ = cache.x.shape
        return {}, jnp.broadcast_to(dy[:, None, None, :] / (h * w), cache.x.shape)
