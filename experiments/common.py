"""Running an experiment, top to bottom: start (or resume) the run, fit it, evaluate it on the
test set, and write the run folder. Each step is its own module:

    experiments/start.py    data, model, optimizer, train state (fresh or from the checkpoint)
    experiments/fit.py      the epochs, with a checkpoint after every one
    experiments/finish.py   test evaluation, the report, metrics.json and the figures

``main`` is every experiment's command line (experiments/cnn.py and the others call it).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import jax

from experiments.cli import RunConfig, UsageError, guarded, parse_command, prepare_out_dir
from experiments.cluster import start_cluster
from experiments.finish import print_fingerprint, report_on_test, run_metrics, write_run_folder
from experiments.fit import fit
from experiments.start import (
    CHECKPOINT,
    announce,
    describe_device,
    load_data,
    make_optimizer,
    start_run,
)
from nn.checkpoint import load_checkpoint, read_meta
from nn.model import Sequential
from nn.parallel import Placement

__all__ = ["CHECKPOINT", "evaluate_checkpoint", "main", "make_optimizer", "train"]


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
    several processes every process trains, and only process 0 writes. Returns metrics.json's
    contents."""
    placement = placement or Placement()
    cfg = replace(cfg, out=str(out_dir))
    run = start_run(name, build_model, cfg, out_dir, resume=resume, placement=placement)
    announce(run, placement)
    run = fit(run, placement)
    test = report_on_test(run.model, run.state.params, run.data, run.cfg, placement)
    metrics = run_metrics(run, test, placement)
    print_fingerprint(run.state.params)
    if jax.process_index() == 0:
        write_run_folder(run, test, metrics)
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
