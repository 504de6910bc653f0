"""Max pooling over P x P windows (PH x PW in general) taken every S rows and columns.

Shapes: N batch, H x W input, C channels, H' x W' output.
    H' = 1 + (H - PH) // SH,   W' = 1 + (W - PW) // SW     (Keras "valid" pooling)

Rows and columns that no window reaches (when (H - PH) is not a multiple of SH) are dropped
by the forward pass and get a zero gradient.

Ties. When several inputs of a window share its maximum, the whole gradient goes to the first
of them in row-major window order (smallest row, then smallest column). This is deterministic
and matches ``argmax``; frameworks differ here (XLA's reduce_window gradient picks via
select-and-scatter), and any choice is a valid subgradient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax.numpy as jnp

from nn.conv import place_window, window_slice
from nn.layer import Array, Params, Shape, check_positive, pair


class PoolCache(NamedTuple):
    x: Array  # (N, H, W, C) the input: backward finds which element of each window won
    y: Array  # (N, H', W', C) the output, i.e. each window's maximum


@dataclass(frozen=True)
class MaxPool2D:
    pool_size: int | tuple[int, int] = 2  # (PH, PW); an int means square
    strides: int | tuple[int, int] | None = None  # (SH, SW); None means equal to pool_size

    def __post_init__(self) -> None:
        check_positive("MaxPool2D pool_size", *pair(self.pool_size))
        check_positive("MaxPool2D strides", *pair(self.stride_pair))

    @property
    def stride_pair(self) -> tuple[int, int]:
        return pair(self.pool_size if self.strides is None else self.strides)

    def output_hw(self, h: int, w: int) -> tuple[int, int]:
        (ph, pw), (sh, sw) = pair(self.pool_size), self.stride_pair
        return 1 + (h - ph) // sh, 1 + (w - pw) // sw

    def init(self, key: Array, in_shape: Shape) -> tuple[Params, Shape]:
        if len(in_shape) != 3:
            raise ValueError(f"MaxPool2D expects (H, W, C) inputs, got {in_shape}")
        h, w, c = in_shape
        ph, pw = pair(self.pool_size)
        if h < ph or w < pw:
            raise ValueError(f"MaxPool2D window {ph}x{pw} does not fit a {h}x{w} input")
        return {}, (*self.output_hw(h, w), c)

    def windows(self, x: Array) -> list[Array]:
        """The PH*PW strided views x[:, i + SH*h, j + SW*w, :], each (N, H', W', C)."""
        (ph, pw), strides = pair(self.pool_size), self.stride_pair
        out_hw = self.output_hw(x.shape[1], x.shape[2])
        return [window_slice(x, i, j, out_hw, strides) for i in range(ph) for j in range(pw)]

    def forward(
        self, params: Params, x: Array, *, key: Array | None = None, train: bool = False
    ) -> tuple[Array, PoolCache]:
        views = self.windows(x)
        y = views[0]
        for v in views[1:]:
            y = jnp.maximum(y, v)  # (N, H', W', C)
        return y, PoolCache(x=x, y=y)

    def backward(self, params: Params, cache: PoolCache, dy: Array) -> tuple[Params, Array]:
        """Backward pass. dy = dL/dy (N, H', W', C).

        y = max over the window, so dy/dx is 1 for the (first) maximal element of the window and
        0 elsewhere: each window routes its dy to its winner. Visiting the window offsets in
        row-major order, offset (i, j) wins where its value equals the maximum and no earlier
        offset has won yet; its share is placed back at rows i + SH*h, cols j + SW*w
        (``place_window``) and summed (overlapping windows, S < P, may route several dy to one
        input). dx has shape (N, H, W, C); inputs that are no window's winner get 0.
        """
        (ph, pw), strides = pair(self.pool_size), self.stride_pair
        hw = cache.x.shape[1:3]
        taken = jnp.zeros(cache.y.shape, bool)  # (N, H', W', C) window already routed
        routed = []  # per window offset, in row-major order: the dy it receives, (N, H', W', C)
        for view in self.windows(cache.x):
            wins = (view == cache.y) & ~taken
            taken = taken | wins
            routed.append(jnp.where(wins, dy, 0))
        if strides == (ph, pw):
            return {}, self.tile_back(routed, cache.x.shape)
        dx = jnp.zeros(cache.x.shape, dy.dtype)
        for k, part in enumerate(routed):  # overlapping windows: sum the placed parts
            dx = dx + place_window(part, k // pw, k % pw, hw, strides)
        return {}, dx

    def tile_back(self, routed: list[Array], x_shape: tuple[int, ...]) -> Array:
        """Non-overlapping windows (S = P) tile the input, so the routed parts interleave
        without sums: stack them to (N, H', PH, W', PW, C), merge to (N, H'*PH, W'*PW, C) and pad
        the rows and columns no window reached with zeros. One pass instead of PH*PW."""
        ph, pw = pair(self.pool_size)
        n, ho, wo, c = routed[0].shape
        grid = jnp.stack(routed).reshape(ph, pw, n, ho, wo, c)  # (PH, PW, N, H', W', C)
        tiled = grid.transpose(2, 3, 0, 4, 1, 5).reshape(n, ho * ph, wo * pw, c)
        h, w = x_shape[1], x_shape[2]
        return jnp.pad(tiled, ((0, 0), (0, h - ho * ph), (0, w - wo * pw), (0, 0)))
