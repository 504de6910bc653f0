"""One epoch of a run, around the train step that experiments/fit.py calls batch after batch:

    epoch = Epoch(n, batch_size=..., seed=..., epoch=..., progress=ProgressBar())
    sums = epoch.sums
    for rows in epoch.batches():             # the seeded order of (seed, epoch)
        state, sums = train_step(state, sums, data, *rows)
        epoch.after_step(sums)               # checks, curve points, the live progress line
    result = epoch.end(sums)

The running sums stay on the device (nn/epoch_sums.py); the host reads them only to check the
loss (every ``check_every`` steps), to take a point of the training curves, to redraw the
progress line, and at the end. In between, steps are dispatched without waiting for the device.

An epoch can stop at a step boundary and be continued later from that step, with the running
sums and the curve it had (``Resumed``): the order of every epoch is a function of (seed,
epoch), so the continuation skips the steps already taken and ends exactly as if it had never
stopped, with the same curve points. What a checkpoint's header keeps of them: ``to_json``.

Shapes: N examples, B batch size.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from itertools import islice
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from experiments.progress import ProgressBar
from nn.batches import batches, num_batches
from nn.epoch_sums import EpochSums
from nn.parallel import Placement


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


class Resumed(NamedTuple):
    """How far a run got into an epoch before it stopped (on SIGTERM or Ctrl-C)."""

    step: int  # steps of the epoch already taken
    sums: EpochSums  # the epoch's running sums after them
    seconds: float  # the epoch's training seconds so far
    curve: Curve | None = None  # the epoch's curve points so far (None: from its start)


class EpochResult(NamedTuple):
    loss: float  # mean training loss over the steps taken so far
    accuracy: float  # training accuracy over the steps taken so far
    seconds: float  # wall-clock seconds of this session of the epoch
    steps: int  # steps of the epoch taken, those before a resumed start included
    total: int  # steps in the whole epoch
    sums: EpochSums  # the running sums (host values), to continue a stopped epoch from
    curve: Curve  # the curve points so far, those before a resumed start included

    @property
    def finished(self) -> bool:
        return self.steps == self.total


class Epoch:
    """One pass over N examples in the seeded order of ``epoch``, or its rest (``resumed``).

    A curve point is taken every ``ceil(total / curve_points)`` steps and at the last step, from
    the running sums: about ``curve_points`` points per epoch. Raises TrainingDiverged, naming
    the epoch and step, as soon as a check finds a non-finite loss. Checks run every
    ``check_every`` steps, at every curve point, whenever the live progress line refreshes, and
    at the end."""

    def __init__(
        self,
        n: int,
        *,
        batch_size: int,
        seed: int,
        epoch: int,
        drop_last: bool = True,
        placement: Placement | None = None,
        progress: ProgressBar | None = None,
        check_every: int = 200,
        curve_points: int = 10,
        resumed: Resumed | None = None,
    ) -> None:
        self.placement = placement or Placement()
        self.n, self.batch_size, self.seed, self.epoch = n, batch_size, seed, epoch
        self.drop_last, self.progress, self.check_every = drop_last, progress, check_every
        self.total = num_batches(n, batch_size, drop_last)
        self.every = max(1, math.ceil(self.total / curve_points))
        self.done = resumed.step if resumed else 0
        self.sums = self.placement.tree(resumed.sums if resumed else EpochSums.zeros())
        curve = resumed.curve if resumed else None
        self.curve = curve or Curve((), jax.device_get(EpochSums.zeros()))
        self.start = time.perf_counter()

    def batches(self) -> Iterator[tuple]:
        """The (index, weight) rows of each remaining step, placed on the devices."""
        order = batches(self.n, self.batch_size, seed=self.seed, epoch=self.epoch,
                        drop_last=self.drop_last)  # fmt: skip
        self.start = time.perf_counter()
        for b in islice(order, self.done, None):
            yield self.placement.rows(b.index, b.weight)

    @property
    def last(self) -> bool:
        """Whether the step just taken was the epoch's last."""
        return self.done == self.total

    def after_step(self, sums: EpochSums) -> None:
        """Count the step whose running sums are ``sums`` (on the device), and check, take a
        curve point or redraw the progress line when one is due."""
        self.done += 1
        if self.placement.devices > 1:
            # One multi-device step in flight at a time: XLA's CPU runtime can deadlock when
            # several steps' collectives wait for threads held by each other (seen with 4 CPU
            # devices on 2 cores); on accelerators this costs little.
            jax.block_until_ready(sums)
        live = self.progress is not None and self.progress.due()
        point = self.done % self.every == 0 and not self.last  # the last one: in ``end``
        if live or point or self.done % self.check_every == 0:
            host = jax.device_get(sums)
            check_finite(host, self.epoch)
            if point:
                self.curve = add_point(self.curve, host, self.epoch, self.done, self.total)
            if live:
                self.progress.update(
                    self.done, self.total, host.loss / host.count, host.correct / host.count
                )

    def end(self, sums: EpochSums) -> EpochResult:
        """The epoch's result so far (the whole epoch when its last step was taken)."""
        host = jax.device_get(sums)
        seconds = time.perf_counter() - self.start
        check_finite(host, self.epoch)
        if self.last:
            self.curve = add_point(self.curve, host, self.epoch, self.done, self.total)
        loss, accuracy = float(host.loss / host.count), float(host.correct / host.count)
        return EpochResult(loss, accuracy, seconds, self.done, self.total, host, self.curve)


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


def check_finite(sums: EpochSums, epoch: int) -> None:
    if int(sums.first_bad) >= 0 or not math.isfinite(float(sums.loss)):
        step = int(sums.first_bad) + 1 if int(sums.first_bad) >= 0 else int(sums.steps)
        raise TrainingDiverged(
            f"the training loss became NaN or infinite at epoch {epoch + 1}, step {step}; "
            "lower the learning rate (--lr)"
        )


def to_json(result: EpochResult, seconds: float) -> dict:
    """What a checkpoint's header keeps of an epoch stopped after ``result.steps`` steps and
    ``seconds`` of training (a float32 value is exact as a JSON float, so the epoch continues
    from exactly these numbers)."""
    curve = {"points": [p._asdict() for p in result.curve.points],
             "sums": sums_to_dict(result.curve.sums)}  # fmt: skip
    return {"step": result.steps, "epoch_sums": sums_to_dict(result.sums),
            "epoch_curve": curve, "epoch_seconds": seconds}  # fmt: skip


def resumed_from_json(meta: dict) -> Resumed:
    """The Resumed of a checkpoint header that ``to_json`` wrote (an older header has no
    curve: the epoch's curve then starts where it resumes)."""
    sums = sums_from_dict(meta["epoch_sums"])
    curve = meta.get("epoch_curve")
    if curve is not None:
        points = tuple(CurvePoint(**p) for p in curve["points"])
        curve = Curve(points, jax.device_get(sums_from_dict(curve["sums"])))
    return Resumed(meta["step"], sums, meta["epoch_seconds"], curve)


def sums_to_dict(sums: EpochSums) -> dict[str, float | int]:
    return {k: np.asarray(v).item() for k, v in zip(EpochSums._fields, sums, strict=True)}


def sums_from_dict(d: dict) -> EpochSums:
    """The running sums that ``sums_to_dict`` wrote, with their own dtypes."""
    zeros = EpochSums.zeros()
    return EpochSums(
        *(jnp.asarray(d[k], z.dtype) for k, z in zip(EpochSums._fields, zeros, strict=True))
    )
