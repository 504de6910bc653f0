"""Mini-batches as index arrays: seeded shuffling per epoch, a policy for the last partial
batch, and an optional copy of the whole dataset on the device so that each step gathers its
batch there instead of copying it from the host.

Every batch has the same shape (B,), so a jitted step compiles once. With
``drop_last=False`` the final partial batch is padded with repeated indices and a weight
vector marks the real examples (1) and the padding (0); the loss ignores weight-0 rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import jax
import numpy as np


class Batch(NamedTuple):
    index: np.ndarray  # (B,) int32 rows of the dataset
    weight: np.ndarray  # (B,) float32, 1 for real examples, 0 for padding


def num_batches(n: int, batch_size: int, drop_last: bool) -> int:
    return n // batch_size if drop_last else -(-n // batch_size)


def epoch_order(n: int, *, seed: int, epoch: int, shuffle: bool = True) -> np.ndarray:
    """The example order of one epoch: a permutation drawn from (seed, epoch), so that any
    epoch's order can be recomputed without replaying the earlier ones."""
    if not shuffle:
        return np.arange(n, dtype=np.int32)
    return np.random.default_rng([seed, epoch]).permutation(n).astype(np.int32)


def batches(
    n: int,
    batch_size: int,
    *,
    seed: int = 0,
    epoch: int = 0,
    shuffle: bool = True,
    drop_last: bool = True,
) -> Iterator[Batch]:
    """Yield the batches of one epoch over ``n`` examples (no Python loop per sample)."""
    if batch_size <= 0:
        raise ValueError(f"batch size must be positive, got {batch_size}")
    if batch_size > n and drop_last:
        raise ValueError(f"batch size {batch_size} is larger than the {n} examples")
    order = epoch_order(n, seed=seed, epoch=epoch, shuffle=shuffle)
    full = n // batch_size
    ones = np.ones(batch_size, np.float32)
    for b in range(full):
        yield Batch(order[b * batch_size : (b + 1) * batch_size], ones)
    rest = n - full * batch_size
    if rest and not drop_last:
        index = np.resize(order[full * batch_size :], batch_size)  # pad by repeating
        weight = (np.arange(batch_size) < rest).astype(np.float32)
        yield Batch(index, weight)


class DeviceArrays(NamedTuple):
    """A split placed on the device once; jitted steps gather rows with ``x[index]``."""

    x: jax.Array  # (N, H, W, C)
    y: jax.Array  # (N,)


def to_device(x: np.ndarray, y: np.ndarray, device: jax.Device | None = None) -> DeviceArrays:
    return DeviceArrays(jax.device_put(x, device), jax.device_put(y, device))
