"""What every layer is: a frozen configuration with three pure functions.

    init(key, in_shape)                    -> (params, out_shape)
    forward(params, x, *, key, train)      -> (y, cache)
    backward(params, cache, dy)            -> (grads, dx)

Shapes exclude the batch axis in ``in_shape``/``out_shape`` and include it (N) in arrays.
``grads`` has exactly the tree structure of ``params`` (an empty dict for layers without
parameters), so an optax optimizer can consume it directly. ``cache`` holds exactly what
``backward`` needs; it is a NamedTuple of arrays so that it can cross ``jax.jit``.

This is the custom-VJP vocabulary (``f_fwd :: a -> (b, c)``, ``f_bwd :: (c, CT b) -> CT a``)
written out by hand: JAX's autodiff computes no gradient in ``nn/`` (the tests use it as an
oracle).
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import jax
import jax.numpy as jnp

Array = jax.Array
Params = dict[str, Array]
Shape = tuple[int, ...]


class Layer(Protocol):
    """Structural type of a layer (see the module docstring)."""

    def init(self, key: Array, in_shape: Shape) -> tuple[Params, Shape]: ...

    def forward(
        self, params: Params, x: Array, *, key: Array | None = None, train: bool = False
    ) -> tuple[Array, Any]: ...

    def backward(self, params: Params, cache: Any, dy: Array) -> tuple[Params, Array]: ...


def glorot_uniform(key: Array, shape: Shape, fan_in: int, fan_out: int) -> Array:
    """Keras's default kernel initialiser: U(-a, a) with a = sqrt(6 / (fan_in + fan_out))."""
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    # Drawn flat, then reshaped: the same numbers (threefry counts along the flat index), but XLA
    # compiles a 1-D draw about twice as fast as a 4-D one (0.15 s against 0.35 s here).
    flat = jax.random.uniform(key, (math.prod(shape),), jnp.float32, -limit, limit)
    return flat.reshape(shape)


def pair(v: int | tuple[int, int]) -> tuple[int, int]:
    """Normalise an int-or-pair option (kernel size, stride, pool size) to a pair."""
    if isinstance(v, int):
        return (v, v)
    a, b = v
    return (int(a), int(b))


def check_positive(name: str, *values: int) -> None:
    """Raise ValueError when a configuration value is not a positive integer."""
    for v in values:
        if not isinstance(v, int) or v <= 0:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
