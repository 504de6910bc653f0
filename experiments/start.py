"""Starting a run, or resuming one from its folder: the data, the model, the optimizer and the
train state (fresh from the seed, or from the run folder's checkpoint), and the lines that
announce them.

A run folder holds:

    checkpoint.npz   parameters, Adam state and PRNG key after the last completed epoch, with
                     the epoch, history and configuration in its header (see nn/checkpoint.py)
    metrics.json     test accuracy and loss, history, configuration, report, seconds, versions
    *.png            the figures of experiments/plots.py
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import NamedTuple

import jax
import optax

from data import Dataset, load_dataset
from data.load import subset
from experiments.cli import RunConfig, UsageError
from nn.batches import DeviceArrays
from nn.checkpoint import load_checkpoint
from nn.model import Sequential
from nn.parallel import Placement
from nn.train import TrainState, adam, init_state, one_cycle

CHECKPOINT = "checkpoint.npz"


class Run(NamedTuple):
    """A run from its start to its run folder; fitting returns it with the state moved on."""

    name: str  # the experiment, e.g. "cnn"
    cfg: RunConfig  # what to train (cfg.out is the run folder)
    folder: Path  # the run folder
    model: Sequential
    data: Dataset  # test and validation splits; x_train is None (its copy is train_data)
    train_data: DeviceArrays | None  # the training split on the device; None after fitting
    in_shape: tuple  # one example's shape, e.g. (28, 28, 1)
    optimizer: optax.GradientTransformation
    state: TrainState  # parameters, optimizer state, PRNG key (placed on the devices)
    epoch: int  # epochs completed
    history: list[dict]  # one row per completed epoch: loss, accuracy, seconds (, val_...)
    train_seconds: float  # seconds spent training, earlier sessions of a resumed run included
    header: dict  # what every checkpoint's header repeats: experiment, model, config, ...
    resumed: bool  # whether the state came from the run folder's checkpoint


def load_data(cfg: RunConfig) -> Dataset:
    ds = load_dataset(
        cfg.dataset,
        cfg.data_dir,
        validation_size=cfg.validation,
        seed=cfg.seed,
        download=not cfg.offline,
    )
    if cfg.subset:
        ds = subset(ds, cfg.subset)
    if cfg.batch_size > len(ds.y_train):
        raise UsageError(
            f"--batch-size {cfg.batch_size} is larger than the {len(ds.y_train)} training examples"
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
    resume: bool,
    placement: Placement,
) -> Run:
    """Load the data, build the model and its optimizer, and initialise the train state from
    the seed or, with ``resume``, load it from the run folder's checkpoint. The training split
    goes to the device; the host copy is dropped (188 MB for MNIST)."""
    ds = load_data(cfg)
    model = build_model(len(ds.class_names))
    in_shape = ds.x_train.shape[1:]
    steps = len(ds.y_train) // cfg.batch_size  # the last partial batch is dropped
    optimizer = make_optimizer(cfg, steps)
    state = init_state(model, optimizer, in_shape, seed=cfg.seed)
    epoch, history, seconds = 0, [], 0.0
    if resume:
        state, meta = load_checkpoint(folder / CHECKPOINT, state)
        if meta.get("model") != describe(model):
            raise UsageError(f"{folder / CHECKPOINT} holds a different model than {name}'s")
        epoch, history, seconds = meta["epoch"], meta["history"], meta["train_seconds"]
    header = {
        "experiment": name,
        "model": describe(model),
        "config": asdict(cfg),
        "in_shape": list(in_shape),
        "class_names": list(ds.class_names),
        "mean": ds.mean,
        "std": ds.std,
    }
    train_data = placement.data(ds.x_train, ds.y_train)
    ds = ds._replace(x_train=None)  # only the device copy is used from here
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
        print(f"Resuming {run.folder} after epoch {run.epoch}/{run.cfg.epochs}")
