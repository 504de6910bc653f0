"""Fitting a run: its remaining epochs, each one seeded pass over the training data
(nn/loop.py), then the validation split, the epoch's progress line and a checkpoint.

The order of every epoch is a function of (seed, epoch), and dropout keys come from the PRNG key
in the checkpoint, so a resumed run replays the interrupted epoch exactly: on CPU it ends with
the same parameters, bit for bit, as a run that was never interrupted.
"""

from __future__ import annotations

import time

import jax

from experiments.start import CHECKPOINT, Run
from nn.checkpoint import save_checkpoint
from nn.evaluate import evaluate, make_eval_step
from nn.loop import train_epoch
from nn.parallel import Placement
from nn.progress import ProgressBar
from nn.train import make_train_step


def fit(run: Run, placement: Placement) -> Run:
    """Train ``run`` from its last completed epoch to the last, writing the checkpoint after
    every epoch (process 0 only). Returns the run with the state, epoch, history and seconds
    moved on, and without its training data (freed before the test set's evaluation)."""
    cfg, state, history = run.cfg, run.state, list(run.history)
    lead = jax.process_index() == 0
    val = placement.data(run.data.x_val, run.data.y_val) if run.data.x_val is not None else None
    train_step = make_train_step(run.model, run.optimizer, mesh=placement.mesh)
    eval_step = make_eval_step(run.model)
    steps = len(run.data.y_train) // cfg.batch_size  # the last partial batch is dropped
    started = time.perf_counter()
    for epoch in range(run.epoch, cfg.epochs):
        print(f"Epoch {epoch + 1}/{cfg.epochs}", flush=True)
        bar = ProgressBar()
        state, result = train_epoch(
            train_step,
            state,
            run.train_data,
            batch_size=cfg.batch_size,
            seed=cfg.seed,
            epoch=epoch,
            progress=bar,
            placement=placement,
        )
        row = {
            "epoch": epoch + 1,
            "loss": result.loss,
            "accuracy": result.accuracy,
            "seconds": result.seconds,
        }
        if val is not None:
            v = evaluate(eval_step, state.params, val, cfg.eval_batch_size, placement)
            row |= {"val_loss": v.loss, "val_accuracy": v.accuracy}
        history.append(row)
        bar.finish(
            steps, result.seconds, {k: v for k, v in row.items() if k not in ("epoch", "seconds")}
        )
        train_seconds = run.train_seconds + time.perf_counter() - started
        if lead:
            save_checkpoint(
                run.folder / CHECKPOINT,
                state,
                run.header
                | {"epoch": epoch + 1, "history": history, "train_seconds": train_seconds},
            )
    return run._replace(
        train_data=None,
        state=state,
        epoch=cfg.epochs,
        history=history,
        train_seconds=run.train_seconds + time.perf_counter() - started,
    )
