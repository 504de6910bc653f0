"""Running an experiment, top to bottom: ``main`` is every experiment's command line
(experiments/cnn.py and the other commands hand it their recipe). It reads the options, opens
the run folder, starts (or resumes) the run, fits it, evaluates it on the test set and writes
the run folder; each step is its own module:

    experiments/start.py    data, model, optimizer, train state (fresh or from the checkpoint)
    experiments/fit.py      the epochs and their batches, a checkpoint after every epoch
    experiments/finish.py   test evaluation, the report, metrics.json and the figures
    experiments/rundir.py   the run folder: never replaced silently, locked while in use

From ``main`` to a layer's backward: main -> fit -> the train step -> a piece of the batch ->
forward_backward -> Sequential.backward -> Conv2D.backward (README: "The learner's path").
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import replace
from functools import partial
from pathlib import Path

import jax

from data.fetch import data_roots
from experiments.cli import Command, parse_command
from experiments.cluster import start_cluster
from experiments.config import ByDataset, RunConfig
from experiments.finish import finish_run, report_on_test
from experiments.fit import fit
from experiments.outcome import UsageError, ending
from experiments.rundir import (
    METRICS,
    FolderLock,
    clear_run,
    prepare_out_dir,
    refuse_to_replace,
)
from experiments.start import (
    CHECKPOINT,
    announce,
    describe_device,
    load_data,
    make_optimizer,
    start_run,
)
from experiments.stopping import StopRequest
from nn.checkpoint import CheckpointError, load_weights, read_meta
from nn.model import Sequential
from nn.parallel import Placement
from nn.precision import with_precision
from nn.runtime import use_compilation_cache

__all__ = ["CHECKPOINT", "evaluate_checkpoint", "main", "make_optimizer"]


def saved_config(path: Path, name: str, cli: RunConfig) -> tuple[RunConfig, dict]:
    """The configuration stored in a checkpoint of experiment ``name``, and its header; the
    data location and --offline come from the current command line."""
    meta = read_meta(path)
    if meta.get("experiment") != name:
        other = meta.get("experiment", "an unknown experiment")
        raise UsageError(
            f"{path} was written by experiments.{other}; use python -m experiments.{other}"
        )
    missing = [k for k in ("config", "epoch", "in_shape", "class_names") if k not in meta]
    if missing or not isinstance(meta["config"], dict):
        raise CheckpointError(
            f"{path}: its header lacks {', '.join(missing) or 'a configuration'}; "
            "it was not written by a run of this version"
        )
    cfg = RunConfig.from_dict(meta["config"])
    return replace(cfg, data_dir=cli.data_dir, offline=cli.offline), meta


def saved_run_data_dirs(
    data_dir: str | None, env_data_dir: str | None, dataset: str, meta: dict
) -> list[str]:
    """Where to look for the data of a saved run (``meta``, its checkpoint's header): --data-dir
    if given, else where the run found it (while that folder still holds the dataset); then
    $HANDJAX_DATA_DIR (and, in data/, the per-user cache). Without --data-dir, prints one line
    saying where it looks."""
    usual = [env_data_dir] if env_data_dir else []
    if data_dir:
        return [data_dir, *usual]
    found = meta.get("data_root") or meta["config"].get("data_dir")  # older runs: --data-dir
    then = ", ".join(str(root) for root in data_roots(usual))
    if found and (Path(found) / dataset).is_dir():
        print(f"Looking for {dataset} where the run found it, in {found} (then {then})")
        return [found, *usual]
    if found:
        print(f"{Path(found) / dataset} is gone (the run found {dataset} there); looking in {then}")
    else:
        print(f"Looking for {dataset} in {then} (the run did not record where it found it)")
    return usual


def evaluate_checkpoint(
    name: str,
    build_model: Callable[[int], Sequential],
    cmd: Command,
    path: Path,
    placement: Placement,
) -> None:
    """--eval-only: report on the test set with the parameters of a checkpoint (and the run's
    test-time augmentation, or the --tta given now)."""
    cfg, meta = saved_config(path, name, cmd.cfg)
    if cmd.eval_tta:
        cfg = replace(cfg, tta=cmd.eval_tta)
    ds = load_data(cfg, saved_run_data_dirs(cmd.cfg.data_dir, cmd.env_data_dir, cfg.dataset, meta))
    model = with_precision(build_model(len(meta["class_names"])), cfg.precision)
    params, model_state = load_weights(path, model, tuple(meta["in_shape"]))
    print(f"Running on {describe_device()}")
    print(f"Evaluating {path} (epoch {meta['epoch']}/{cfg.epochs}) on the {ds.name} test set")
    report_on_test(model, placement.tree((params, model_state)), ds, cfg, placement)


def open_run(cmd: Command, name: str, held: ExitStack, made: list[Path]) -> tuple:
    """The run folder, configuration and data folders of a new run or of the run to resume:
    (folder, cfg, data_dirs). Process 0 locks the folder until ``held`` closes, and refuses a
    folder that holds a run (unless --overwrite) or a finished run to resume; a folder it
    creates goes into ``made``."""
    lead = jax.process_index() == 0
    if cmd.resume:
        folder = Path(cmd.resume)
        cfg, meta = saved_config(folder / CHECKPOINT, name, cmd.cfg)
        dirs = saved_run_data_dirs(cmd.cfg.data_dir, cmd.env_data_dir, cfg.dataset, meta)
        if lead:
            held.callback(FolderLock(folder).release)
            if meta["epoch"] >= cfg.epochs and (folder / METRICS).exists():
                raise UsageError(
                    f"{folder} already finished its {cfg.epochs} epochs; nothing to resume"
                )
        return folder, cfg, dirs
    cfg = cmd.cfg
    dirs = [d for d in (cfg.data_dir, cmd.env_data_dir) if d]
    folder = Path(cfg.out or "runs/unused")  # process 0 names and makes it
    if lead:
        folder, created = prepare_out_dir(cfg.out, name)
        made.extend([folder] if created else [])
        held.callback(FolderLock(folder).release)
        if not cmd.overwrite:
            refuse_to_replace(folder)
    return folder, cfg, dirs


def main(
    name: str,
    doc: str,
    build_model: Callable[[int], Sequential],
    defaults: RunConfig,
    argv: Sequence[str] | None = None,
    *,
    per_dataset: ByDataset | None = None,
) -> int:
    """Parse the command line and run it: --eval-only, --resume, or a new run. Every expected
    failure ends as one line and an exit code (experiments/outcome.py). A new run that fails
    before its first checkpoint removes its folder, so nothing half-written remains; one stopped
    by SIGTERM or Ctrl-C saves where it is and says how to resume. With several processes every
    process trains, and only process 0 writes. ``per_dataset``: the recipe's settings that differ
    on some dataset (experiments/config.py)."""
    cmd = parse_command(argv, name, doc, defaults, per_dataset)
    made: list[Path] = []  # the folder this command created, removed if it fails
    with ending(partial(keep_or_remove, made)) as end, ExitStack() as held:
        use_compilation_cache()  # the next run of this command skips most compiling
        placement = start_cluster(cmd.cluster)
        if cmd.eval_only:
            evaluate_checkpoint(name, build_model, cmd, Path(cmd.checkpoint), placement)
        else:
            with StopRequest().installed() as stop:
                folder, cfg, dirs = open_run(cmd, name, held, made)
                cfg = replace(cfg, out=str(folder))
                run = start_run(name, build_model, cfg, folder, data_dirs=dirs,
                                resume=bool(cmd.resume), placement=placement)  # fmt: skip
                announce(run, placement)
                if cmd.overwrite and jax.process_index() == 0:
                    print(f"Replacing the run in {folder} (--overwrite)")
                    clear_run(folder)
                run = fit(run, placement, stop)
                finish_run(run, placement)
    return end.code


def keep_or_remove(made: list[Path], interrupted: bool) -> str | None:
    """After a failure: remove the folder this command made, unless a checkpoint in it holds
    the run's work; then keep it and say how to go on."""
    for folder in made:
        if (folder / CHECKPOINT).exists():
            return f"the run's last checkpoint stays in {folder}: continue with --resume {folder}"
        shutil.rmtree(folder, ignore_errors=True)
    return None
