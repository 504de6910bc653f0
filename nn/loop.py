"""The epoch loop: one pass over the training data in its seeded order, dispatching the jitted
train step (nn/train.py) batch after batch, with the divergence check and the live progress line.

Shapes: N examples, B batch size; X (N, ...) and Y (N,) live on the device.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import NamedTuple

import jax

from nn.batches import DeviceArrays, batches, num_batches
from nn.parallel import Placement
from nn.progress import ProgressBar
from nn.train import EpochSums, TrainState


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class EpochResult(NamedTuple):
    loss: float
    accuracy: float
    seconds: float


def train_epoch(
    train_step: Callable,
    state: TrainState,
    data: DeviceArrays,
    *,
    batch_size: int,
    seed: int,
    epoch: int,
    drop_last: bool = True,
    progress: ProgressBar | None = None,
    check_every: int = 200,
    placement: Placement | None = None,
) -> tuple[TrainState, EpochResult]:
    """One pass over ``data`` in the seeded order of ``epoch``. Raises TrainingDiverged, naming
    the epoch and step, as soon as a check finds a non-finite loss. Checks run every
    ``check_every`` steps, whenever the live progress line refreshes, and at the end of the
    epoch; in between, steps are dispatched without waiting for the device."""
    placement = placement or Placement()
    n = data.y.shape[0]
    total = num_batches(n, batch_size, drop_last)
    sums = placement.tree(EpochSums.zeros())
    start = time.perf_counter()
    for i, b in enumerate(batches(n, batch_size, seed=seed, epoch=epoch, drop_last=drop_last)):
        state, sums = train_step(state, sums, data, *placement.rows(b.index, b.weight))
        if placement.devices > 1:
            # One multi-device step in flight at a time: XLA's CPU runtime can deadlock when
            # several steps' collectives wait for threads held by each other (seen with 4 CPU
            # devices on 2 cores); on accelerators this costs little.
            jax.block_until_ready(sums)
        live = progress is not None and progress.due()
        if live or (i + 1) % check_every == 0:
            host = jax.device_get(sums)
            check_finite(host, epoch)
            if live:
                progress.update(i + 1, total, host.loss / host.count, host.correct / host.count)
    host = jax.device_get(sums)
    seconds = time.perf_counter() - start
    check_finite(host, epoch)
    return state, EpochResult(
        float(host.loss / host.count), float(host.correct / host.count), seconds
    )


def check_finite(sums: EpochSums, epoch: int) -> None:
    if int(sums.first_bad) >= 0 or not math.isfinite(float(sums.loss)):
        step = int(sums.first_bad) + 1 if int(sums.first_bad) >= 0 else int(sums.steps)
        raise TrainingDiverged(
            f"the training loss became NaN or infinite at epoch {epoch + 1}, step {step}; "
            "lower the learning rate (--lr)"
        )
