"""The epoch loop: one pass over the training data in its seeded order, dispatching the jitted
train step (nn/train.py) batch after batch, with the divergence check, the live progress line
and the points of the training curves.

An epoch can stop at a step boundary (``stop``) and be continued later from that step
(``start_step``, with the running sums and the curve it had): the order of every epoch is a
function of (seed, epoch), so the continuation skips the steps already taken and the epoch ends
exactly as if it had never stopped, with the same curve points.

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


class CurvePoint(NamedTuple):
    """A point of the training curves: the training loss and accuracy of the steps since the
    epoch's previous point (since its start, for the first point), not the running epoch mean,
    so that a curve shows where training is now rather than an average that lags behind it."""

    epoch: float  # epochs completed at this point, fractional: epoch index + step / total
    step: int  # steps of the epoch taken at this point
    loss: float  # mean training loss over the steps since the previous point
    accuracy: float  # training accuracy over those steps


class Curve(NamedTuple):
    """An epoch's curve points so far, and the running sums at the last of them (where the next
    point's steps start), to continue a stopped epoch's curve from."""

    points: tuple[CurvePoint, ...]
    sums: EpochSums  # host values at the last point; zeros before the first


class EpochResult(NamedTuple):
    loss: float  # mean training loss over the steps taken so far
    accuracy: float  # training accuracy over the steps taken so far
    seconds: float  # wall-clock seconds of this call
    steps: int  # steps of the epoch taken, those before ``start_step`` included
    total: int  # steps in the whole epoch
    sums: EpochSums  # the running sums (host values), to continue a stopped epoch from
    curve: Curve  # the curve points so far, those before ``start_step`` included

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
    curve: Curve | None = None,
    curve_points: int = 10,
    stop: Callable[[], bool] | None = None,
) -> tuple[TrainState, EpochResult]:
    """One pass over ``data`` in the seeded order of ``epoch``, or its rest: from step
    ``start_step`` on, continuing the running ``sums`` and the ``curve`` of the steps before it.

    A curve point (CurvePoint) is taken every ``ceil(total / curve_points)`` steps and at the
    last step, from the same running sums: about ``curve_points`` points per epoch. ``stop()``
    is asked after every step but the last; when it says yes the epoch stops there and the
    result says how far it got (``finished`` is False). Raises TrainingDiverged, naming the
    epoch and step, as soon as a check finds a non-finite loss. Checks run every
    ``check_every`` steps, at every curve point, whenever the live progress line refreshes, and
    when the call returns; in between, steps are dispatched without waiting for the device."""
    placement = placement or Placement()
    n = data.y.shape[0]
    total = num_batches(n, batch_size, drop_last)
    every = max(1, math.ceil(total / curve_points))
    sums = placement.tree(EpochSums.zeros() if sums is None else sums)
    if curve is None:
        curve = Curve((), jax.device_get(EpochSums.zeros()))
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
        point = done % every == 0 and done < total  # the last step's point is taken below
        if live or point or done % check_every == 0:
            host = jax.device_get(sums)
            check_finite(host, epoch)
            if point:
                curve = add_point(curve, host, epoch, done, total)
            if live:
                progress.update(done, total, host.loss / host.count, host.correct / host.count)
        if stop is not None and done < total and stop():
            break
    host = jax.device_get(sums)
    seconds = time.perf_counter() - start
    check_finite(host, epoch)
    if done == total:
        curve = add_point(curve, host, epoch, done, total)
    return state, EpochResult(
        float(host.loss / host.count),
        float(host.correct / host.count),
        seconds,
        done,
        total,
        host,
        curve,
    )


def add_point(curve: Curve, sums: EpochSums, epoch: int, step: int, total: int) -> Curve:
    """``curve`` with the point of the steps from its last point to ``step``, whose running sums
    (host values) are ``sums``. The differences are taken in float64 from the float32 sums, so
    the same sums always give the same point."""
    before = curve.sums
    count = float(sums.count) - float(before.count)
    point = CurvePoint(
        epoch=epoch + step / total,
        step=step,
        loss=(float(sums.loss) - float(before.loss)) / count,
        accuracy=(float(sums.correct) - float(before.correct)) / count,
    )
    return Curve((*curve.points, point), sums)


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


def curve_to_dict(curve: Curve) -> dict:
    """A stopped epoch's curve as JSON, for a checkpoint's header (every number is exact)."""
    return {"points": [p._asdict() for p in curve.points], "sums": sums_to_dict(curve.sums)}


def curve_from_dict(d: dict) -> Curve:
    """The curve that ``curve_to_dict`` wrote."""
    points = tuple(CurvePoint(**p) for p in d["points"])
    return Curve(points, jax.device_get(sums_from_dict(d["sums"])))


def check_finite(sums: EpochSums, epoch: int) -> None:
    if int(sums.first_bad) >= 0 or not math.isfinite(float(sums.loss)):
        step = int(sums.first_bad) + 1 if int(sums.first_bad) >= 0 else int(sums.steps)
        raise TrainingDiverged(
            f"the training loss became NaN or infinite at epoch {epoch + 1}, step {step}; "
            "lower the learning rate (--lr)"
        )
