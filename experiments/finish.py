"""Finishing a run: evaluation on the test split, the printed report, and the run folder's
metrics.json and figures (the checkpoint is already there, written by experiments/fit.py)."""

from __future__ import annotations

import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import NamedTuple

import jax
import numpy as np

from data import Dataset, get_dataset
from data.views import TEST_VIEWS
from experiments.augmented import save_augmentation_figure
from experiments.cluster import fingerprint
from experiments.config import RunConfig
from experiments.plots import save_run_plots
from experiments.report import build_report, format_report
from experiments.rundir import METRICS, write_json, writing
from experiments.start import CHECKPOINT, Run, describe, describe_device
from nn.evaluate import Evaluation, evaluate, make_eval_step
from nn.model import ModelParams, ModelState, Sequential, count_params
from nn.parallel import Placement


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
    eval_step = make_eval_step(model, views)
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
    figures += [augmented] if augmented is not None else []
    metrics["figures"] = [p.name for p in figures]
    write_json(run.folder / METRICS, metrics)
    print(f"Wrote {METRICS}, {CHECKPOINT} and {len(figures)} figures to {run.folder}")
    return figures
