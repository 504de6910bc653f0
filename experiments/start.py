"""Starting a run, or resuming one from its folder: the data, the model, the optimizer and the
train state (fresh from the seed, or from the run folder's checkpoint), and the lines that
announce them. What the run folder holds: experiments/rundir.py.

A checkpoint's header holds the epochs completed and, for a run stopped inside an epoch (on
SIGTERM), the steps of the next epoch already taken and that epoch's running sums, so that the
resumed run skips those steps and ends bit-identical to one that never stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import NamedTuple

import jax
import optax

from data import Dataset, load_dataset
from data.load import hold_out, subset
from experiments.config import RunConfig
from experiments.epoch import Resumed, resumed_from_json
from experiments.outcome import UsageError
from experiments.rundir import CHECKPOINT
from nn.batches import DeviceArrays
from nn.checkpoint import CheckpointError, load_checkpoint
from nn.model import Sequential
from nn.parallel import Placement
from nn.precision import with_precision
from nn.train import TrainState, adam, init_state, one_cycle

MAX_STEPS = 2**31 - 1  # optax counts a run's steps in int32


class Run(NamedTuple):
    """A run from its start to its run folder; fitting returns it with the state moved on."""

    name: str  # the experiment, e.g. "cnn"
    cfg: RunConfig  # what to train (cfg.out is the run folder)
    folder: Path  # the run folder
    model: Sequential
    data: Dataset  # test and validation splits; x_train is None (it is train_data now)
    train_data: DeviceArrays | None  # the training split on the device; None after fitting
    in_shape: tuple  # one example's shape, e.g. (28, 28, 1)
    optimizer: optax.GradientTransformation
    state: TrainState  # parameters, optimizer state, PRNG key (placed on the devices)
    epoch: int  # epochs completed
    partial: Resumed | None  # how far into the next epoch, for a run stopped inside one
    history: list[dict]  # a row per completed epoch: loss, accuracy, seconds, points, val_...
    train_seconds: float  # seconds spent training, earlier sessions of a resumed run included
    header: dict  # what every checkpoint's header repeats: experiment, model, config, ...
    resumed: bool  # whether the state came from the run folder's checkpoint


def load_data(cfg: RunConfig, data_dirs: Sequence[str]) -> Dataset:
    """The dataset, searched for in ``data_dirs`` and then the per-user cache, with the options
    that depend on its size checked before any other work."""
    ds = load_dataset(cfg.dataset, data_dirs, download=not cfg.offline)
    if cfg.validation:
        if cfg.validation >= len(ds.y_train):
            raise UsageError(
                f"--validation {cfg.validation} leaves no training examples: {ds.name} has "
                f"{len(ds.y_train)}; hold out fewer"
            )
        ds = hold_out(ds, cfg.validation, seed=cfg.seed)
    if cfg.subset:
        ds = subset(ds, cfg.subset)
    if cfg.batch_size > len(ds.y_train):
        raise UsageError(
            f"--batch-size {cfg.batch_size} is larger than the {len(ds.y_train)} training examples"
        )
    steps = len(ds.y_train) // cfg.batch_size
    if cfg.epochs * steps > MAX_STEPS:
        raise UsageError(
            f"--epochs {cfg.epochs} makes {cfg.epochs * steps:,} steps of batch {cfg.batch_size}, "
            f"more than a run can count ({MAX_STEPS:,}); ask for at most {MAX_STEPS // steps:,}"
        )
    return ds


def make_optimizer(cfg: RunConfig, steps_per_epoch: int) -> optax.GradientTransformation:
    if cfg.schedule == "onecycle":
        return adam(one_cycle(cfg.lr, cfg.epochs * steps_per_epoch))
    return adam(cfg.lr)


def describe(model: Sequential) -> list[str]:
    return [repr(layer) for layer in model.layers]


def describe_device() -> str:
    d = jax.devices()[0]
    count = jax.device_count()
    return f"{d.platform.upper()} ({d.device_kind}), {count} device(s), JAX {jax.__version__}"


def start_run(
    name: str,
    build_model: Callable[[int], Sequential],
    cfg: RunConfig,
    folder: Path,
    *,
    data_dirs: Sequence[str],
    resume: bool,
    placement: Placement,
) -> Run:
    """Load the data (from ``data_dirs``, then the per-user cache), build the model and its
    optimizer, and initialise the train state from the seed or, with ``resume``, load it from
    the run folder's checkpoint. The training split goes to the device (a CPU device keeps the
    loaded array's memory, without a copy: data/load.py) and the dataset forgets it."""
    ds = load_data(cfg, data_dirs)
    model = with_precision(build_model(len(ds.class_names)), cfg.precision)
    if model.mixes_batch and cfg.batch_size % placement.devices:
        raise UsageError(
            f"--batch-size {cfg.batch_size} does not divide by the {placement.devices} devices: "
            "this model's BatchNorm needs equal blocks (padding rows would enter its "
            "statistics); choose a multiple of the device count or --devices"
        )
    in_shape = ds.x_train.shape[1:]
    steps = len(ds.y_train) // cfg.batch_size  # the last partial batch is dropped
    optimizer = make_optimizer(cfg, steps)
    state = init_state(model, optimizer, in_shape, seed=cfg.seed)
    epoch, partial, history, seconds = 0, None, [], 0.0
    if resume:
        state, meta = load_checkpoint(folder / CHECKPOINT, state)
        if meta.get("model") != describe(model):
            raise UsageError(f"{folder / CHECKPOINT} holds a different model than {name}'s")
        try:
            epoch, history, seconds = meta["epoch"], meta["history"], meta["train_seconds"]
            if meta.get("step"):
                partial = resumed_from_json(meta)
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(
                f"{folder / CHECKPOINT}: its header is incomplete ({type(e).__name__}: {e}); "
                "it was not written by a run of this version"
            ) from None
    header = {
        "experiment": name,
        "model": describe(model),
        "config": asdict(cfg),
        "test_views": cfg.test_views,  # --tta resolved: what experiments.predict averages over
        "in_shape": list(in_shape),
        "class_names": list(ds.class_names),
        "mean": ds.mean,
        "std": ds.std,
        "data_root": ds.root,  # where the data was found: --resume and --eval-only look there
    }
    train_data = placement.data(ds.x_train, ds.y_train)
    ds = ds._replace(x_train=None)  # only the device's array is used from here
    return Run(
        name=name,
        cfg=cfg,
        folder=folder,
        model=model,
        data=ds,
        train_data=train_data,
        in_shape=in_shape,
        optimizer=optimizer,
        state=placement.tree(state),
        epoch=epoch,
        partial=partial,
        history=history,
        train_seconds=seconds,
        header=header,
        resumed=resume,
    )


def announce(run: Run, placement: Placement) -> None:
    """Print the device, the dataset, the model summary and, when resuming, where from."""
    ds = run.data
    parallel = f", data-parallel over {placement.devices}" if placement.devices > 1 else ""
    print(f"Running on {describe_device()}{parallel}")
    print(
        f"Dataset: {ds.name}, {len(ds.y_train)} training / {len(ds.y_test)} test images"
        + (f" / {len(ds.y_val)} validation" if ds.y_val is not None else "")
    )
    print(run.model.summary(run.in_shape, run.state.params))
    if run.resumed:
        where = f"epoch {run.epoch}/{run.cfg.epochs}"
        if run.partial:
            steps = len(ds.y_train) // run.cfg.batch_size
            where += f" and step {run.partial.step}/{steps} of epoch {run.epoch + 1}"
        print(f"Resuming {run.folder} after {where}")
