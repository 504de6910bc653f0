"""Fully connected layer: y = x @ w + b.

Shapes: N batch, D input features, U units.
    x (N, D), w (D, U), b (U,), y (N, U)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax.numpy as jnp

from nn.layer import Array, Key, Params, Shape, State, check_positive, glorot_uniform


class DenseCache(NamedTuple):
    x: Array  # (N, D) the input, needed for dw


@dataclass(frozen=True)
class Dense:
    units: int  # U, number of output features
    use_bias: bool = True  # add a learned bias b of shape (U,)

    def __post_init__(self) -> None:
        check_positive("Dense units", self.units)

    def init(self, key: Array, in_shape: Shape) -> tuple[Params, State, Shape]:
        if len(in_shape) != 1:
            raise ValueError(f"Dense expects flat inputs (D,), got {in_shape}; add Flatten()")
        (d,) = in_shape
        params = {"w": glorot_uniform(key, (d, self.units), d, self.units)}
        if self.use_bias:
            params["b"] = jnp.zeros((self.units,), jnp.float32)
        return params, {}, (self.units,)

    def forward(
        self, params: Params, state: State, x: Array, *, key: Key = None, train: bool = False
    ) -> tuple[Array, DenseCache, State]:
        y = x @ params["w"]  # (N, U)
        if self.use_bias:
            y = y + params["b"][None, :]
        return y, DenseCache(x=x), state

    def backward(self, params: Params, cache: DenseCache, dy: Array) -> tuple[Params, Array]:
        """Backward pass. dy = dL/dy (N, U).

        y[n, u] = sum_d x[n, d] w[d, u] + b[u], so by the chain rule
            dx[n, d] = sum_u dy[n, u] w[d, u]      -> dx = dy @ w.T        (N, D)
            dw[d, u] = sum_n x[n, d] dy[n, u]      -> dw = x.T @ dy        (D, U)
            db[u]    = sum_n dy[n, u]              (b is broadcast over n)  (U,)
        """
        grads = {"w": cache.x.T @ dy}
        if self.use_bias:
            grads["b"] = jnp.sum(dy, axis=0)
        dx = dy @ params["w"].T
        return grads, dx
