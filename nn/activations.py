"""Elementwise activations. Shapes: any; y and dx have the shape of x."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax.numpy as jnp

from nn.layer import Array, Key, Params, Shape, State


class ReLUCache(NamedTuple):
    y: Array  # the output max(x, 0); y > 0 exactly where the derivative is 1


@dataclass(frozen=True)
class ReLU:
    def init(self, key: Array, in_shape: Shape) -> tuple[Params, State, Shape]:
        return {}, {}, in_shape

    def forward(
        self, params: Params, state: State, x: Array, *, key: Key = None, train: bool = False
    ) -> tuple[Array, ReLUCache, State]:
        y = jnp.maximum(x, 0)
        return y, ReLUCache(y=y), state

    def backward(self, params: Params, cache: ReLUCache, dy: Array) -> tuple[Params, Array]:
        """d max(x, 0)/dx is 1 for x > 0 and 0 for x < 0; at x = 0 we take 0 (as jax.nn.relu)."""
        return {}, jnp.where(cache.y > 0, dy, 0)
