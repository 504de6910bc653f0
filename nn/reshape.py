"""Flatten: (N, d1, d2, ...) -> (N, d1*d2*...), in row-major (C) order, as Keras's Flatten."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

from nn.layer import Array, Key, Params, Shape, State


class FlattenCache(NamedTuple):
    x: Array  # the input; only its shape is used by backward


@dataclass(frozen=True)
class Flatten:
    def init(self, key: Array, in_shape: Shape) -> tuple[Params, State, Shape]:
        return {}, {}, (math.prod(in_shape),)

    def forward(
        self, params: Params, state: State, x: Array, *, key: Key = None, train: bool = False
    ) -> tuple[Array, FlattenCache, State]:
        return x.reshape(x.shape[0], -1), FlattenCache(x=x), state

    def backward(self, params: Params, cache: FlattenCache, dy: Array) -> tuple[Params, Array]:
        """A reshape moves no values, so its gradient is the inverse reshape of dy."""
        return {}, dy.reshape(cache.x.shape)
