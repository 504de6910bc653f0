"""What every experiment shares: the command line, the run (data, model summary, training with
Keras-style progress, evaluation, report), the run folder (metrics.json, checkpoint, plots),
and turning every expected failure into one line on stderr and a non-zero exit."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import jax
import numpy as np

from data import DATASETS, DataError, get_dataset, load_dataset, to_device
from experiments.plots import save_run_plots
from nn.checkpoint import CheckpointError, save_checkpoint
from nn.model import Sequential, count_params
from nn.progress import ProgressBar
from nn.report import build_report, format_report
from nn.train import (
    TrainingDiverged,
    adam,
    evaluate,
    init_state,
    make_eval_step,
    make_train_step,
    one_cycle,
    train_epoch,
)

EXIT_USAGE = 2  # bad command-line value
EXIT_FAILURE = 1  # data, output folder, divergence


@dataclass(frozen=True)
class RunConfig:
    dataset: str = "mnist"  # "mnist" or "fashion-mnist"
    data_dir: str | None = None  # data root holding DIR/<dataset>/ (else env var, then cache)
    epochs: int = 3  # passes over the training set
    batch_size: int = 32  # examples per step
    lr: float = 3e-3  # Adam's learning rate (the peak, with the one-cycle schedule)
    schedule: str = "onecycle"  # "onecycle" (warm-up then cosine decay) or "constant"
    seed: int = 0  # initialisation, shuffling and dropout all derive from it
    validation: int = 0  # training examples held out for validation (0: none)
    out: str | None = None  # run folder (default: runs/<experiment>-<timestamp>)
    offline: bool = False  # never download: fail if the dataset files are not found locally
    subset: int = 0  # use only the first N training and N test examples (0: all); for quick runs
    eval_batch_size: int = 1000  # examples per evaluation step


class UsageError(Exception):
    """A bad command-line value."""


class CliParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (plus the pointer to --help), not a usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
    return value


def parse_config(argv: Sequence[str] | None, name: str, doc: str, defaults: RunConfig) -> RunConfig:
    p = CliParser(
        prog=f"python -m experiments.{name}",
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--dataset",
        choices=sorted(DATASETS),
        default=defaults.dataset,
        help="dataset to train and test on (default: %(default)s)",
    )
    p.add_argument(
        "--data-dir",
        default=defaults.data_dir,
        metavar="DIR",
        help="data root holding DIR/mnist/ and DIR/fashion-mnist/ (default: "
        "$HANDJAX_DATA_DIR, then ~/.cache/handjax/datasets, downloading if needed)",
    )
    p.add_argument(
        "--epochs",
        type=positive_int,
        default=defaults.epochs,
        help="passes over the training set (default: %(default)s)",
    )
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=defaults.batch_size,
        help="examples per training step (default: %(default)s)",
    )
    p.add_argument(
        "--lr",
        type=positive_float,
        default=defaults.lr,
        help="Adam learning rate; the peak of the one-cycle schedule (default: %(default)s)",
    )
    p.add_argument(
        "--schedule",
        choices=["onecycle", "constant"],
        default=defaults.schedule,
        help="learning-rate schedule (default: %(default)s)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=defaults.seed,
        help="seed for initialisation, shuffling and dropout (default: %(default)s)",
    )
    p.add_argument(
        "--validation",
        type=int,
        default=defaults.validation,
        metavar="N",
        help="hold out N training examples for validation (default: %(default)s)",
    )
    p.add_argument(
        "--out",
        default=defaults.out,
        metavar="DIR",
        help="run folder for metrics.json, the checkpoint and plots "
        "(default: runs/<experiment>-<time>)",
    )
    p.add_argument(
        "--offline",
        action="store_true",
        default=defaults.offline,
        help="never download; fail with instructions if the files are missing",
    )
    p.add_argument(
        "--subset",
        type=positive_int,
        default=None,
        metavar="N",
        help="use only the first N training and N test examples (a quick run)",
    )
    args = p.parse_args(argv)
    if args.validation < 0:
        p.error(f"argument --validation: must be >= 0, got {args.validation}")
    if args.subset is None:
        args.subset = defaults.subset
    return replace(defaults, **vars(args))


def prepare_out_dir(out: str | None, name: str) -> tuple[Path, bool]:
    """Create (or reuse) the run folder and prove it is writable. Returns (folder, created)."""
    if out is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        folder, k = Path("runs") / f"{name}-{stamp}", 1
        while folder.exists():
            k += 1
            folder = Path("runs") / f"{name}-{stamp}-{k}"
    else:
        folder = Path(out)
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        reason = e.strerror or str(e)
        raise UsageError(
            f"cannot write to the output folder {folder}: {reason}; choose another with --out"
        ) from None
    return folder, created


def write_json(path: Path, payload: dict) -> None:
    from data.idx import atomic_write

    atomic_write(path, (json.dumps(payload, indent=2) + "\n").encode())


def describe_device() -> str:
    d = jax.devices()[0]
    count = jax.device_count()
    return f"{d.platform.upper()} ({d.device_kind}), {count} device(s), JAX {jax.__version__}"


def run(
    name: str,
    build_model: Callable[[int], Sequential],
    cfg: RunConfig,
    out_dir: Path,
    *,
    drop_last: bool = True,
) -> dict[str, Any]:
    """Train ``build_model(num_classes)`` as configured, print the Keras-style log and the
    report, and write metrics.json and checkpoint.npz into ``out_dir``."""
    ds = load_dataset(
        cfg.dataset,
        cfg.data_dir,
        validation_size=cfg.validation,
        seed=cfg.seed,
        download=not cfg.offline,
    )
    if cfg.subset:
        ds = ds._replace(
            x_train=ds.x_train[: cfg.subset],
            y_train=ds.y_train[: cfg.subset],
            x_test=ds.x_test[: cfg.subset],
            y_test=ds.y_test[: cfg.subset],
        )
    n_train = len(ds.y_train)
    if cfg.batch_size > n_train:
        raise UsageError(
            f"--batch-size {cfg.batch_size} is larger than the {n_train} training examples"
        )
    model = build_model(len(ds.class_names))
    in_shape = ds.x_train.shape[1:]
    steps_per_epoch = n_train // cfg.batch_size if drop_last else -(-n_train // cfg.batch_size)
    lr = one_cycle(cfg.lr, cfg.epochs * steps_per_epoch) if cfg.schedule == "onecycle" else cfg.lr
    optimizer = adam(lr)
    state = init_state(model, optimizer, in_shape, seed=cfg.seed)

    print(f"Running on {describe_device()}")
    print(
        f"Dataset: {ds.name}, {n_train} training / {len(ds.y_test)} test images"
        + (f" / {len(ds.y_val)} validation" if ds.y_val is not None else "")
    )
    print(model.summary(in_shape, state.params))

    train = to_device(ds.x_train, ds.y_train)
    test = to_device(ds.x_test, ds.y_test)
    val = to_device(ds.x_val, ds.y_val) if ds.x_val is not None else None
    train_step, eval_step = make_train_step(model, optimizer), make_eval_step(model)

    history = []
    t_train = time.perf_counter()
    for epoch in range(cfg.epochs):
        print(f"Epoch {epoch + 1}/{cfg.epochs}", flush=True)
        bar = ProgressBar()
        state, result = train_epoch(
            train_step,
            state,
            train,
            batch_size=cfg.batch_size,
            seed=cfg.seed,
            epoch=epoch,
            drop_last=drop_last,
            progress=bar,
        )
        row = {
            "epoch": epoch + 1,
            "loss": result.loss,
            "accuracy": result.accuracy,
            "seconds": result.seconds,
        }
        if val is not None:
            v = evaluate(eval_step, state.params, val, cfg.eval_batch_size)
            row |= {"val_loss": v.loss, "val_accuracy": v.accuracy}
        history.append(row)
        shown = {k: v for k, v in row.items() if k not in ("epoch", "seconds")}
        bar.finish(steps_per_epoch, result.seconds, shown)
    train_seconds = time.perf_counter() - t_train

    t_eval = time.perf_counter()
    test_eval = evaluate(eval_step, state.params, test, cfg.eval_batch_size)
    eval_seconds = time.perf_counter() - t_eval
    print(f"Test loss: {test_eval.loss:.4f} - test accuracy: {test_eval.accuracy:.4f}")
    print(f"predicted: {test_eval.predictions[:30].tolist()}")
    print(f"actual:    {ds.y_test[:30].tolist()}")
    report = build_report(ds.y_test, test_eval.predictions, ds.class_names)
    print(format_report(report))

    metrics = {
        "experiment": name,
        "test_accuracy": test_eval.accuracy,
        "test_loss": test_eval.loss,
        "history": history,
        "config": asdict(cfg) | {"out": str(out_dir)},
        "train_seconds": train_seconds,
        "eval_seconds": eval_seconds,
        "parameters": count_params(state.params),
        "model": [repr(layer) for layer in model.layers],
        "dataset": {
            "name": ds.name,
            "class_names": list(ds.class_names),
            "train": n_train,
            "test": len(ds.y_test),
            "validation": 0 if ds.y_val is None else len(ds.y_val),
        },
        "jax_version": jax.__version__,
        "device": describe_device(),
        "report": report,
        "credit": get_dataset(ds.name).credit,
    }
    save_checkpoint(
        out_dir / "checkpoint.npz",
        state.params,
        {
            "experiment": name,
            "model": metrics["model"],
            "in_shape": list(in_shape),
            "class_names": list(ds.class_names),
            "mean": ds.mean,
            "std": ds.std,
        },
    )
    figures = save_run_plots(
        out_dir,
        history,
        ds.x_test,
        ds.y_test,
        test_eval.probs,
        ds.class_names,
        np.asarray(report["confusion_matrix"]),
        f"({name}, {ds.name})",
    )
    metrics["figures"] = [p.name for p in figures]
    write_json(out_dir / "metrics.json", metrics)
    print(f"Wrote metrics.json, checkpoint.npz and {len(figures)} figures to {out_dir}")
    return metrics


EXPECTED_ERRORS = (UsageError, DataError, TrainingDiverged, CheckpointError, ValueError, OSError)


def guarded(body: Callable[[], None], cleanup: Callable[[], None] = lambda: None) -> int:
    """Run ``body``; turn an expected failure into one line on stderr and an exit code, after
    ``cleanup`` removes whatever the failed run had started to write."""
    try:
        body()
        return 0
    except EXPECTED_ERRORS as e:
        code = EXIT_USAGE if isinstance(e, UsageError) else EXIT_FAILURE
        failure = str(e)
    except KeyboardInterrupt:
        code, failure = 130, "interrupted"
    cleanup()
    print(f"error: {failure}", file=sys.stderr)
    return code


def main(
    name: str,
    doc: str,
    build_model: Callable[[int], Sequential],
    defaults: RunConfig,
    argv: Sequence[str] | None = None,
) -> int:
    """Parse the command line, run, and map every expected failure to one line and an exit code.
    A run that fails removes the run folder if it created it, so nothing half-written remains."""
    cfg = parse_config(argv, name, doc, defaults)
    made: list[Path] = []

    def body() -> None:
        out_dir, created = prepare_out_dir(cfg.out, name)
        if created:
            made.append(out_dir)
        run(name, build_model, cfg, out_dir)

    return guarded(body, lambda: [shutil.rmtree(d, ignore_errors=True) for d in made])
