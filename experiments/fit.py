"""Fitting a run: its remaining epochs, each one seeded pass over the training data, the train
step (nn/train.py) called batch after batch (experiments/epoch.py keeps the epoch's books), then
the validation split, the epoch's progress line and a checkpoint.

Each epoch's row of the history holds the epoch's mean training loss and accuracy, its seconds,
the validation loss and accuracy (with --validation), and ``points``: about CURVE_POINTS points
of the training curves (experiments/epoch.py's CurvePoint: fractional epoch, step, and the loss
and accuracy of the steps since the previous point), which experiments/plots.py draws.

The order of every epoch is a function of (seed, epoch), and dropout keys come from the PRNG key
in the checkpoint, so a resumed run replays the interrupted epoch exactly: on CPU it ends with
the same parameters, bit for bit, as a run that was never interrupted. A run asked to stop
(experiments/stopping.py) saves a checkpoint at the next step boundary, with how far into the
epoch it got, and raises Stopped.
"""

from __future__ import annotations

import signal
import time

import jax

from data.augment import make_augment, parse_augment
from experiments.cluster import agreed_stop
from experiments.epoch import Epoch, EpochResult, to_json
from experiments.outcome import Stopped
from experiments.progress import ProgressBar
from experiments.rundir import write_checkpoint
from experiments.start import CHECKPOINT, Run
from experiments.stopping import StopRequest
from nn.evaluate import evaluate, make_eval_step
from nn.parallel import Placement
from nn.train import TrainState, make_train_step

CURVE_POINTS = 10  # training-curve points per epoch (every ceil(steps / 10) steps and the last)


def fit(run: Run, placement: Placement, stop: StopRequest | None = None) -> Run:
    """Train ``run`` from where it is to its last epoch, writing the checkpoint after every
    epoch (process 0 only). Returns the run with the state, epoch, history and seconds moved on,
    and without its training data (freed before the test set's evaluation). When ``stop`` says
    so, saves where it is and raises Stopped."""
    cfg, state, history = run.cfg, run.state, list(run.history)
    lead = jax.process_index() == 0
    should_stop = agreed_stop(stop or (lambda: False))
    val = placement.data(run.data.x_val, run.data.y_val) if run.data.x_val is not None else None
    train_step = make_train_step(
        run.model,
        run.optimizer,
        mesh=placement.mesh,
        augment=make_augment(parse_augment(cfg.augmentation)),
        label_smoothing=cfg.label_smoothing,
    )
    eval_step = make_eval_step(run.model, mesh=placement.mesh)
    steps = len(run.data.y_train) // cfg.batch_size  # the last partial batch is dropped
    started = time.perf_counter()
    for epoch in range(run.epoch, cfg.epochs):
        if should_stop():  # the checkpoint on disk (if any) is where the run is
            raise stopped(run, stop, f"before epoch {epoch + 1}/{cfg.epochs}")
        print(f"Epoch {epoch + 1}/{cfg.epochs}", flush=True)
        bar = ProgressBar()
        partial = run.partial if epoch == run.epoch else None
        books = Epoch(
            len(run.data.y_train),
            batch_size=cfg.batch_size,
            seed=cfg.seed,
            epoch=epoch,
            placement=placement,
            progress=bar,
            curve_points=CURVE_POINTS,
            resumed=partial,
        )
        sums = books.sums
        for rows in books.batches():
            state, sums = train_step(state, sums, run.train_data, *rows)
            books.after_step(sums)
            if not books.last and should_stop():
                break
        result = books.end(sums)
        seconds = result.seconds + (partial.seconds if partial else 0.0)
        if not result.finished:
            if bar.live:
                print()  # end the progress line
            train_seconds = run.train_seconds + time.perf_counter() - started
            if lead:
                save_mid_epoch(run, state, epoch, result, seconds, history, train_seconds)
            where = f"at step {result.steps}/{result.total} of epoch {epoch + 1}/{cfg.epochs}"
            raise stopped(run, stop, where)
        row = {
            "epoch": epoch + 1,
            "loss": result.loss,
            "accuracy": result.accuracy,
            "seconds": seconds,
            "points": [p._asdict() for p in result.curve.points],
        }
        if val is not None:
            v = evaluate(
                eval_step, state.params, state.model_state, val, cfg.eval_batch_size, placement
            )
            row |= {"val_loss": v.loss, "val_accuracy": v.accuracy}
        history.append(row)
        shown = ("loss", "accuracy", "val_loss", "val_accuracy")
        bar.finish(steps, seconds, {k: row[k] for k in shown if k in row})
        train_seconds = run.train_seconds + time.perf_counter() - started
        if lead:
            meta = {"epoch": epoch + 1, "history": history, "train_seconds": train_seconds}
            write_checkpoint(run.folder / CHECKPOINT, state, run.header | meta)
    if should_stop():  # before the test set's evaluation, which a resumed run then does
        raise stopped(run, stop, f"after its last epoch ({cfg.epochs})")
    return run._replace(
        train_data=None,
        state=state,
        epoch=cfg.epochs,
        partial=None,
        history=history,
        train_seconds=run.train_seconds + time.perf_counter() - started,
    )


def save_mid_epoch(
    run: Run,
    state: TrainState,
    epoch: int,
    result: EpochResult,
    seconds: float,
    history: list[dict],
    train_seconds: float,
) -> None:
    """The checkpoint of a run stopped inside ``epoch``: its state, the epochs completed, and
    the steps taken, running sums, curve points and seconds of the epoch it stopped in."""
    meta = run.header | to_json(result, seconds)
    meta |= {"epoch": epoch, "history": history, "train_seconds": train_seconds}
    write_checkpoint(run.folder / CHECKPOINT, state, meta)


def stopped(run: Run, stop: StopRequest | None, where: str) -> Stopped:
    """The Stopped exception that ends the process, saying how to go on."""
    signum = (stop.signum if stop else None) or signal.SIGTERM  # another process's signal
    name = signal.Signals(signum).name
    if not (run.folder / CHECKPOINT).exists():
        return Stopped(signum, f"stopped by {name} {where}; nothing was saved")
    return Stopped(
        signum,
        f"stopped by {name} {where}; saved {run.folder / CHECKPOINT}; continue with: "
        f"python -m experiments.{run.name} --resume {run.folder}",
    )
