"""Finishing a run: evaluation on the test split, the printed report, and the run folder's
metrics.json and figures (the checkpoint is already there, written by experiments/fit.py).
saliency.png comes from nn/saliency.py and experiments/saliency_figures.py."""

from __future__ import annotations

import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import NamedTuple

import jax
import numpy as np

from data import Dataset, get_dataset
from data.augment import parse_augment
from data.views import TEST_VIEWS, carry_back
from experiments.augmented import save_augmentation_figure
from experiments.cluster import fingerprint
from experiments.config import RunConfig
from experiments.plots import pyplot, save_run_plots
from experiments.report import build_report, format_report
from experiments.rundir import METRICS, write_json, writing
from experiments.saliency_figures import save_saliency_grid
from experiments.start import CHECKPOINT, Run, describe, describe_device
from nn.checkpoint import to_numpy
from nn.evaluate import Evaluation, evaluate, make_eval_step
from nn.model import ModelParams, ModelState, Sequential, count_params
from nn.parallel import Placement
from nn.runtime import ONE_SHOT
from nn.saliency import times_input, views_saliency


class OnTest(NamedTuple):
    evaluation: Evaluation  # loss, accuracy, predictions and probabilities on the test split
    report: dict  # per-class metrics and the confusion matrix (experiments/report.py)
    seconds: float  # the evaluation's wall-clock time


def report_on_test(
    model: Sequential,
    weights: tuple[ModelParams, ModelState],
    ds: Dataset,
    cfg: RunConfig,
    placement: Placement,
) -> OnTest:
    """Evaluate ``weights`` (parameters and model state) on the test split and print loss,
    accuracy, 30 sample predictions and the report."""
    start = time.perf_counter()
    test = placement.data(ds.x_test, ds.y_test)
    views = TEST_VIEWS[cfg.test_views]
    if views:
        print(f"Test-time augmentation: {cfg.test_views} (the mean of {1 + len(views)} views)")
    eval_step = make_eval_step(model, views, mesh=placement.mesh)
    result = evaluate(eval_step, *weights, test, cfg.eval_batch_size, placement)
    seconds = time.perf_counter() - start
    print(f"Test loss: {result.loss:.4f} - test accuracy: {result.accuracy:.4f}")
    print(f"predicted: {result.predictions[:30].tolist()}")
    print(f"actual:    {ds.y_test[:30].tolist()}")
    report = build_report(ds.y_test, result.predictions, ds.class_names)
    print(format_report(report))
    return OnTest(result, report, seconds)


def run_metrics(run: Run, test: OnTest, placement: Placement) -> dict:
    """What metrics.json holds: the test numbers, history, configuration, report, seconds,
    parameter count, model, dataset, versions and devices."""
    ds = run.data
    return {
        "experiment": run.name,
        "test_accuracy": test.evaluation.accuracy,
        "test_loss": test.evaluation.loss,
        "history": run.history,
        "config": asdict(run.cfg),
        "augmentation": parse_augment(run.cfg.augmentation).to_dict(),  # the preset spelled out
        "train_seconds": run.train_seconds,
        "eval_seconds": test.seconds,
        "parameters": count_params(run.state.params),
        "model": describe(run.model),
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
        "report": test.report,
        "credit": get_dataset(ds.name).credit,
    }


def finish_run(run: Run, placement: Placement) -> dict:
    """Evaluate the fitted ``run`` on the test set and print the report; process 0 writes the run
    folder. Returns what metrics.json holds."""
    weights = (run.state.params, run.state.model_state)
    test = report_on_test(run.model, weights, run.data, run.cfg, placement)
    metrics = run_metrics(run, test, placement)
    print_fingerprint(run.state.params)
    if jax.process_index() == 0:
        write_run_folder(run, test, metrics)
    return metrics


def print_fingerprint(params: ModelParams) -> None:
    """With several processes, every process says what it ended with: they must agree."""
    if jax.process_count() > 1:
        print(
            f"process {jax.process_index()}/{jax.process_count()}: parameters "
            f"{fingerprint(params)}",
            file=sys.stderr,
            flush=True,
        )


def save_saliency_figure(run: Run, test: OnTest, per_row: int = 10) -> Path | None:
    """saliency.png: the first test image of each class that the network read right (a row),
    then its most confident mistakes (a row), each with the map of the class it chose, as
    gradient x input of that class's log-probability (nn/saliency.py). With test-time
    augmentation, the map of the log of the views' mean probability, as the drawing page shows
    it. None without matplotlib."""
    if pyplot() is None:
        return None
    ds, preds, probs = run.data, test.evaluation.predictions, test.evaluation.probs
    hits = [
        np.flatnonzero((preds == ds.y_test) & (ds.y_test == c)) for c in range(len(ds.class_names))
    ]
    right = [int(rows[0]) for rows in hits if len(rows)]  # the first hit of each class
    wrong = np.flatnonzero(preds != ds.y_test)
    wrong = wrong[np.argsort(-probs[wrong, preds[wrong]], kind="stable")][:per_row]
    chosen = np.array([*right[:per_row], *wrong], dtype=np.int64)  # (n,) test rows
    if len(chosen) == 0:
        return None
    params, state = jax.tree_util.tree_map(to_numpy, (run.state.params, run.state.model_state))
    x = ds.x_test[chosen]  # (n, H, W, C), standardised as in training
    views = TEST_VIEWS[run.cfg.test_views]  # as in the evaluation: on the model's inputs

    def saliency(p: ModelParams, s: ModelState, x: jax.Array, c: jax.Array) -> jax.Array:
        _, _, grads = views_saliency(run.model, p, s, [x, *(view(x) for view in views)], c)
        return carry_back(views, grads)  # each view's map back to the image

    saliency = jax.jit(saliency, compiler_options=ONE_SHOT)
    dx = np.asarray(saliency(params, state, x, preds[chosen].astype(np.int32)))  # like x
    pixels = x * np.float32(ds.std) + np.float32(ds.mean)  # (n, H, W, C) in [0, 1]
    strokes = times_input(dx / np.float32(ds.std), pixels)  # chain rule through standardising
    return save_saliency_grid(
        run.folder / "saliency.png",
        pixels[..., 0],
        ds.y_test[chosen],
        preds[chosen],
        np.asarray(strokes)[..., 0],
        ds.class_names,
        f"Test images read right (first of each class) and wrong (most confident), predicted "
        f"(actual) ({run.name}, {ds.name})",
    )


def write_run_folder(run: Run, test: OnTest, metrics: dict) -> list[Path]:
    """Write the figures and metrics.json (with the figures' names) into the run folder."""
    ds = run.data
    with writing(run.folder):
        figures = save_run_plots(
            run.folder,
            run.history,
            ds.x_test,
            ds.y_test,
            test.evaluation.probs,
            ds.class_names,
            np.asarray(test.report["confusion_matrix"]),
            f"({run.name}, {ds.name})",
            test=(test.evaluation.loss, test.evaluation.accuracy),
        )
        augmented = save_augmentation_figure(run)
        saliency = save_saliency_figure(run, test)
    figures += [p for p in (augmented, saliency) if p is not None]
    metrics["figures"] = [p.name for p in figures]
    write_json(run.folder / METRICS, metrics)
    print(f"Wrote {METRICS}, {CHECKPOINT} and {len(figures)} figures to {run.folder}")
    return figures
