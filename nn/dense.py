"""Fully connected layer: y = x @ w + b.

Shapes: N batch, D input features, U units.
    x (N, D), w (D, U), b (U,), y (N, U)

With ``precision="bf16"`` the three products take bfloat16 operands with float32 accumulation
(nn/precision.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import jax.numpy as jnp

from nn.layer import Array, Key, Params, Shape, State, check_positive, glorot_uniform
from nn.precision import Precision, check_precision, matmul


class DenseCache(NamedTuple):
    x: Array  # (N, D) the input, needed for dw


@dataclass(frozen=True)
class Dense:
    units: int  # U, number of output features
    use_bias: bool = True  # add a learned bias b of shape (U,)
    # of the products: "f32", or "bf16" operands (nn/precision.py); left out of repr, which names
    # the architecture in checkpoints, because it changes no parameter
    precision: Precision = field(default="f32", repr=False)

    def __post_init__(self) -> None:
        check_positive("Dense units", self.units)
        check_precision("Dense", self.precision)

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
        y = matmul(x, params["w"], self.precision)  # (N, U)
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
        grads = {"w": matmul(cache.x.T, dy, self.precision)}
        if self.use_bias:
            grads["b"] = jnp.sum(dy, axis=0)
        dx = matmul(dy, params["w"].T, self.precision)
        return grads, dx
