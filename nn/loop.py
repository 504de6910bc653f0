"""The epoch loop: one pass over the training data in its seeded order, dispatching the jitted
train step (nn/train.py) batch after batch, with the divergence check and the live progress line.

An epoch can stop at a step boundary (``stop``) and be continued later from that step
(``start_step``, with the running sums it had): the order of every epoch is a function of
(seed, epoch), so the continuation skips the steps already taken and the epoch ends exactly as
if it had never stopped.

Shapes: N examples, B batch size; X (N, ...) and Y (N,) live on the device.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from itertools import islice
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from nn.batches import DeviceArrays, batches, num_batches
from nn.parallel import Placement
from nn.progress import ProgressBar
from nn.train import EpochSums, TrainState


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class EpochResult(NamedTuple):
    loss: float  # mean training loss over the steps taken so far
    accuracy: float  # training accuracy over the steps taken so far
    seconds: float  # wall-clock seconds of this call
    steps: int  # steps of the epoch taken, those before ``start_step`` included
    total: int  # steps in the whole epoch
    sums: EpochSums  # the running sums (host values), to continue a stopped epoch from

    @property
    def finished(self) -> bool:
        return self.steps == self.total


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
    start_step: int = 0,
    sums: EpochSums | None = None,
    stop: Callable[[], bool] | None = None,
) -> tuple[TrainState, EpochResult]:
    """One pass over ``data`` in the seeded order of ``epoch``, or its rest: from step
    ``start_step`` on, continuing the running ``sums`` of the steps before it.

    ``stop()`` is asked after every step but the last; when it says yes the epoch stops there
    and the result says how far it got (``finished`` is False). Raises TrainingDiverged, naming
    the epoch and step, as soon as a check finds a non-finite loss. Checks run every
    ``check_every`` steps, whenever the live progress line refreshes, and when the call returns;
    in between, steps are dispatched without waiting for the device."""
    placement = placement or Placement()
    n = data.y.shape[0]
    total = num_batches(n, batch_size, drop_last)
    sums = placement.tree(EpochSums.zeros() if sums is None else sums)
    order = batches(n, batch_size, seed=seed, epoch=epoch, drop_last=drop_last)
    done = start_step
    start = time.perf_counter()
    for i, b in enumerate(islice(order, start_step, None), start=start_step):
        state, sums = train_step(state, sums, data, *placement.rows(b.index, b.weight))
        done = i + 1
        if placement.devices > 1:
            # One multi-device step in flight at a time: XLA's CPU runtime can deadlock when
            # several steps' collectives wait for threads held by each other (seen with 4 CPU
            # devices on 2 cores); on accelerators this costs little.
            jax.block_until_ready(sums)
        live = progress is not None and progress.due()
        if live or done % check_every == 0:
            host = jax.device_get(sums)
            check_finite(host, epoch)
            if live:
                progress.update(done, total, host.loss / host.count, host.correct / host.count)
        if stop is not None and done < total and stop():
            break
    host = jax.device_get(sums)
    seconds = time.perf_counter() - start
    check_finite(host, epoch)
    return state, EpochResult(
        float(host.loss / host.count), float(host.correct / host.count), seconds, done, total, host
    )


def sums_to_dict(sums: EpochSums) -> dict[str, float | int]:
    """The running sums as JSON numbers, for a checkpoint's header (a float32 value is exact
    as a JSON float, so a stopped epoch continues from exactly these sums)."""
    return {k: np.asarray(v).item() for k, v in zip(EpochSums._fields, sums, strict=True)}


def sums_from_dict(d: dict) -> EpochSums:
    """The running sums that ``sums_to_dict`` wrote, with their own dtypes."""
    zeros = EpochSums.zeros()
    return EpochSums(
        *(jnp.asarray(d[k], z.dtype) for k, z in zip(EpochSums._fields, zeros, strict=True))
    )


def check_finite(sums: EpochSums, epoch: int) -> None:
    if int(sums.first_bad) >= 0 or not math.isfinite(float(sums.loss)):
        step = int(sums.first_bad) + 1 if int(sums.first_bad) >= 0 else int(sums.steps)
        raise TrainingDiverged(
            f"the training loss became NaN or infinite at epoch {epoch + 1}, step {step}; "
            "lower the learning rate (--lr)"
        )
