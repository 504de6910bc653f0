"""The running totals of an epoch, kept on the device: the fast train step (nn/train.py's
``make_train_step``) adds each step's loss, hits and examples to them, so that no step waits for
the host; the host reads them only when it wants a number (a progress line, a curve point)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

Array = jax.Array


class EpochSums(NamedTuple):
    loss: Array  # () float32, sum over steps of (batch loss x real examples in the batch)
    correct: Array  # () float32, correctly classified real examples
    count: Array  # () float32, real examples seen
    steps: Array  # () int32, steps taken
    first_bad: Array  # () int32, first step whose loss was NaN or infinite, -1 if none

    @staticmethod
    def zeros() -> EpochSums:
        f32 = lambda: jnp.zeros((), jnp.float32)  # noqa: E731  (distinct buffers: all donated)
        return EpochSums(f32(), f32(), f32(), jnp.zeros((), jnp.int32), jnp.full((), -1, jnp.int32))

    def add(self, loss: Array, hits: Array, real: Array) -> EpochSums:
        """The sums after one more step with mean loss ``loss`` over ``real`` examples."""
        bad = ~jnp.isfinite(loss) & (self.first_bad < 0)
        return EpochSums(
            loss=self.loss + loss * real,
            correct=self.correct + hits,
            count=self.count + real,
            steps=self.steps + 1,
            first_bad=jnp.where(bad, self.steps, self.first_bad),
        )
