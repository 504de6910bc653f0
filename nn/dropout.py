"""Inverted dropout: in training, zero each activation with probability ``rate`` and scale the
survivors by 1 / (1 - rate), so that E[y] = x and evaluation needs no rescaling.

Shapes: any; the mask has the shape of x. The PRNG key is explicit (keyword ``key``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax

from nn.layer import Array, Key, Params, Shape, State


class DropoutCache(NamedTuple):
    scale: Array  # same shape as x: 0 where dropped, 1 / (1 - rate) where kept (1 in eval)


@dataclass(frozen=True)
class Dropout:
    rate: float  # probability of dropping each activation, in [0, 1)

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate < 1.0:
            raise ValueError(f"Dropout rate must be in [0, 1), got {self.rate!r}")

    def init(self, key: Array, in_shape: Shape) -> tuple[Params, State, Shape]:
        return {}, {}, in_shape

    def forward(
        self, params: Params, state: State, x: Array, *, key: Key = None, train: bool = False
    ) -> tuple[Array, DropoutCache, State]:
        if not train or self.rate == 0.0:
            return x, DropoutCache(scale=jax.numpy.ones((), x.dtype)), state
        if key is None:
            raise ValueError("Dropout in training mode needs a PRNG key (key=...)")
        keep = 1.0 - self.rate
        scale = jax.random.bernoulli(key, keep, x.shape).astype(x.dtype) / keep
        return x * scale, DropoutCache(scale=scale), state

    def backward(self, params: Params, cache: DropoutCache, dy: Array) -> tuple[Params, Array]:
        """y = x * scale elementwise with a constant scale, so dx = dy * scale."""
        return {}, dy * cache.scale
