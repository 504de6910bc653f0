"""Running an experiment: data, model summary, training with Keras-style progress and a
checkpoint after every epoch, evaluation, the report, and the run folder:

    checkpoint.npz   parameters, Adam state and PRNG key after the last completed epoch, with
                     the epoch, history and configuration in its header (see nn/checkpoint.py)
    metrics.json     test accuracy and loss, history, configuration, report, seconds, versions
    *.png            the figures of experiments/plots.py

The order of every epoch is a function of (seed, epoch), and dropout keys come from the PRNG key
in the checkpoint, so a resumed run replays the interrupted epoch exactly: on CPU it ends with
the same parameters, bit for bit, as a run that was never interrupted.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import jax
import numpy as np
import optax

from data import Dataset, get_dataset, load_dataset
from data.load import subset
from experiments.cli import (
    RunConfig,
    UsageError,
    guarded,
    parse_command,
    prepare_out_dir,
    write_json,
)
from experiments.cluster import fingerprint, start_cluster
from experiments.plots import save_run_plots
from nn.checkpoint import load_checkpoint, read_meta, save_checkpoint
from nn.evaluate import Evaluation, evaluate, make_eval_step
from nn.loop import train_epoch
from nn.model import ModelParams, Sequential, count_params
from nn.parallel import Placement
from nn.progress import ProgressBar
from nn.report import build_report, format_report
from nn.train import adam, init_state, make_train_step, one_cycle

CHECKPOINT = "checkpoint.npz"


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


def report_on_test(
    model: Sequential, params: ModelParams, ds: Dataset, cfg: RunConfig, placement: Placement
) -> tuple[Evaluation, dict, float]:
    """Evaluate on the test split and print loss, accuracy, 30 sample predictions and the report."""
    start = time.perf_counter()
    test = placement.data(ds.x_test, ds.y_test)
    result = evaluate(make_eval_step(model), params, test, cfg.eval_batch_size, placement)
    seconds = time.perf_counter() - start
    print(f"Test loss: {result.loss:.4f} - test accuracy: {result.accuracy:.4f}")
    print(f"predicted: {result.predictions[:30].tolist()}")
    print(f"actual:    {ds.y_test[:30].tolist()}")
    report = build_report(ds.y_test, result.predictions, ds.class_names)
    print(format_report(report))
    return result, report, seconds


def train(
    name: str,
    build_model: Callable[[int], Sequential],
    cfg: RunConfig,
    out_dir: Path,
    *,
    resume: bool = False,
    placement: Placement | None = None,
) -> dict[str, Any]:
    """Train (or, with ``resume``, continue training) ``build_model(num_classes)`` as configured,
    checkpointing after every epoch; then evaluate, report, and write the run folder. With
    several processes every process trains, and only process 0 writes."""
    placement = placement or Placement()
    lead = jax.process_index() == 0
    cfg = replace(cfg, out=str(out_dir))
    ds = load_data(cfg)
    model = build_model(len(ds.class_names))
    in_shape = ds.x_train.shape[1:]
    steps = len(ds.y_train) // cfg.batch_size  # the last partial batch is dropped
    optimizer = make_optimizer(cfg, steps)
    state = init_state(model, optimizer, in_shape, seed=cfg.seed)
    start, history, seconds_before = 0, [], 0.0
    if resume:
        state, meta = load_checkpoint(out_dir / CHECKPOINT, state)
        if meta.get("model") != describe(model):
            raise UsageError(f"{out_dir / CHECKPOINT} holds a different model than {name}'s")
        start, history, seconds_before = meta["epoch"], meta["history"], meta["train_seconds"]
    state = placement.tree(state)

    parallel = f", data-parallel over {placement.devices}" if placement.devices > 1 else ""
    print(f"Running on {describe_device()}{parallel}")
    print(
        f"Dataset: {ds.name}, {len(ds.y_train)} training / {len(ds.y_test)} test images"
        + (f" / {len(ds.y_val)} validation" if ds.y_val is not None else "")
    )
    print(model.summary(in_shape, state.params))
    if resume:
        print(f"Resuming {out_dir} after epoch {start}/{cfg.epochs}")

    train_data = placement.data(ds.x_train, ds.y_train)
    ds = ds._replace(x_train=None)  # only the device copy is used from here: free 188 MB
    val = placement.data(ds.x_val, ds.y_val) if ds.x_val is not None else None
    train_step = make_train_step(model, optimizer, mesh=placement.mesh)
    eval_step = make_eval_step(model)
    header = {
        "experiment": name,
        "model": describe(model),
        "config": asdict(cfg),
        "in_shape": list(in_shape),
        "class_names": list(ds.class_names),
        "mean": ds.mean,
        "std": ds.std,
    }
    started = time.perf_counter()
    for epoch in range(start, cfg.epochs):
        print(f"Epoch {epoch + 1}/{cfg.epochs}", flush=True)
        bar = ProgressBar()
        state, result = train_epoch(
            train_step,
            state,
            train_data,
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
        train_seconds = seconds_before + time.perf_counter() - started
        if lead:
            save_checkpoint(
                out_dir / CHECKPOINT,
                state,
                header | {"epoch": epoch + 1, "history": history, "train_seconds": train_seconds},
            )
    train_seconds = seconds_before + time.perf_counter() - started
    del train_data, train_step  # free the training images before the test set's evaluation

    result, report, eval_seconds = report_on_test(model, state.params, ds, cfg, placement)
    metrics = {
        "experiment": name,
        "test_accuracy": result.accuracy,
        "test_loss": result.loss,
        "history": history,
        "config": asdict(cfg),
        "train_seconds": train_seconds,
        "eval_seconds": eval_seconds,
        "parameters": count_params(state.params),
        "model": describe(model),
        "dataset": {
            "name": ds.name,
            "class_names": list(ds.class_names),
            "train": len(ds.y_train),
            "test": len(ds.y_test),
            "validation": 0 if ds.y_val is None else len(ds.y_val),
        },
        "jax_version": jax.__version__,
        "device": describe_device(),
        "devices": placement.devices,
        "processes": jax.process_count(),
        "report": report,
        "credit": get_dataset(ds.name).credit,
    }
    if jax.process_count() > 1:  # every process says what it ended with: they must agree
        print(
            f"process {jax.process_index()}/{jax.process_count()}: parameters "
            f"{fingerprint(state.params)}",
            file=sys.stderr,
            flush=True,
        )
    if not lead:
        return metrics
    figures = save_run_plots(
        out_dir,
        history,
        ds.x_test,
        ds.y_test,
        result.probs,
        ds.class_names,
        np.asarray(report["confusion_matrix"]),
        f"({name}, {ds.name})",
    )
    metrics["figures"] = [p.name for p in figures]
    write_json(out_dir / "metrics.json", metrics)
    print(f"Wrote metrics.json, {CHECKPOINT} and {len(figures)} figures to {out_dir}")
    return metrics


def saved_config(path: Path, name: str, cli: RunConfig) -> tuple[RunConfig, dict]:
    """The configuration stored in a checkpoint of experiment ``name``; the data location comes
    from the current command line."""
    meta = read_meta(path)
    if meta.get("experiment") != name:
        other = meta.get("experiment", "an unknown experiment")
        raise UsageError(
            f"{path} was written by experiments.{other}; use python -m experiments.{other}"
        )
    cfg = RunConfig.from_dict(meta["config"])
    return replace(cfg, data_dir=cli.data_dir, offline=cli.offline), meta


def evaluate_checkpoint(
    name: str,
    build_model: Callable[[int], Sequential],
    cli: RunConfig,
    path: Path,
    placement: Placement,
) -> None:
    """--eval-only: report on the test set with the parameters of a checkpoint."""
    cfg, meta = saved_config(path, name, cli)
    ds = load_data(cfg)
    model = build_model(len(meta["class_names"]))
    like, _ = model.init(jax.random.key(0), tuple(meta["in_shape"]))
    params, _ = load_checkpoint(path, like, prefix=".params")
    print(f"Running on {describe_device()}")
    print(f"Evaluating {path} (epoch {meta['epoch']}/{cfg.epochs}) on the {ds.name} test set")
    report_on_test(model, placement.tree(params), ds, cfg, placement)


def main(
    name: str,
    doc: str,
    build_model: Callable[[int], Sequential],
    defaults: RunConfig,
    argv: Sequence[str] | None = None,
) -> int:
    """Parse the command line and run; map every expected failure to one line and an exit
    code. A new run that fails removes its folder, so nothing half-written remains; one that is
    interrupted (Ctrl-C) keeps its last checkpoint and says how to resume."""
    cmd = parse_command(argv, name, doc, defaults)
    made: list[Path] = []

    def body() -> None:
        placement = start_cluster(cmd.cluster)
        lead = jax.process_index() == 0
        if cmd.eval_only:
            evaluate_checkpoint(name, build_model, cmd.cfg, Path(cmd.checkpoint), placement)
        elif cmd.resume:
            folder = Path(cmd.resume)
            cfg, meta = saved_config(folder / CHECKPOINT, name, cmd.cfg)
            if meta["epoch"] >= cfg.epochs:
                raise UsageError(
                    f"{folder} already finished its {cfg.epochs} epochs; nothing to resume"
                )
            if lead:
                prepare_out_dir(str(folder), name)
            train(name, build_model, cfg, folder, resume=True, placement=placement)
        else:
            if lead:
                folder, created = prepare_out_dir(cmd.cfg.out, name)
                if created:
                    made.append(folder)
            else:
                folder = Path(cmd.cfg.out or "runs/unused")  # never written by this process
            train(name, build_model, cmd.cfg, folder, placement=placement)

    def cleanup(interrupted: bool) -> str | None:
        for folder in made:
            if interrupted and (folder / CHECKPOINT).exists():
                return f"interrupted; continue with --resume {folder}"
            shutil.rmtree(folder, ignore_errors=True)
        return None

    return guarded(body, cleanup)
