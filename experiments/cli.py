"""The command line every experiment shares, its configuration, the run folder, and the rule
that every expected failure ends as one line on stderr and a non-zero exit."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from pathlib import Path
from typing import NoReturn

from data import DATASETS, DataError
from experiments.cluster import Cluster
from nn.checkpoint import CheckpointError, atomic_write
from nn.loop import TrainingDiverged

EXIT_USAGE = 2  # a bad command-line value
EXIT_FAILURE = 1  # data, checkpoint, output folder, divergence


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
    subset: int = 0  # use only the first N training and N test examples (0: all)
    eval_batch_size: int = 250  # examples per evaluation step (bounds the activation memory)

    @staticmethod
    def from_dict(d: dict) -> RunConfig:
        names = {f.name for f in fields(RunConfig)}
        return RunConfig(**{k: v for k, v in d.items() if k in names})


@dataclass(frozen=True)
class Command:
    cfg: RunConfig  # what to train
    resume: str | None  # run folder to continue, or None
    eval_only: bool  # evaluate --checkpoint on the test set, no training
    checkpoint: str | None  # checkpoint for --eval-only
    cluster: Cluster = Cluster()  # devices and processes


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
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text) if text.lstrip("-").isdigit() else -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def parse_command(argv: Sequence[str] | None, name: str, doc: str, defaults: RunConfig) -> Command:
    p = CliParser(
        prog=f"python -m experiments.{name}",
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    a = p.add_argument
    a("--dataset", choices=sorted(DATASETS), help=f"default: {defaults.dataset}")
    a(
        "--data-dir",
        metavar="DIR",
        help="data root holding DIR/mnist/ and DIR/fashion-mnist/ "
        "(default: $HANDJAX_DATA_DIR, then ~/.cache/handjax/datasets, downloading if needed)",
    )
    a(
        "--epochs",
        type=positive_int,
        help=f"passes over the training set (default: {defaults.epochs})",
    )
    a("--batch-size", type=positive_int, help=f"examples per step (default: {defaults.batch_size})")
    a(
        "--lr",
        type=positive_float,
        help=f"Adam learning rate, the peak of the one-cycle schedule (default: {defaults.lr})",
    )
    a("--schedule", choices=["onecycle", "constant"], help=f"default: {defaults.schedule}")
    a(
        "--seed",
        type=int,
        help=f"seed for initialisation, order and dropout (default: {defaults.seed})",
    )
    a(
        "--validation",
        type=non_negative_int,
        metavar="N",
        help="hold out N training examples for validation (default: 0)",
    )
    a(
        "--subset",
        type=positive_int,
        metavar="N",
        help="use only the first N training and N test examples (a quick run)",
    )
    a("--out", metavar="DIR", help="run folder (default: runs/<experiment>-<time>)")
    a("--offline", action="store_true", help="never download; fail if the files are missing")
    a(
        "--resume",
        metavar="RUN_DIR",
        help="continue the run in RUN_DIR from its last completed epoch, with its configuration",
    )
    a(
        "--eval-only",
        action="store_true",
        help="evaluate --checkpoint on the test set without training",
    )
    a("--checkpoint", metavar="PATH", help="checkpoint.npz of a run, for --eval-only")
    add_cluster_options(p)
    args = vars(p.parse_args(argv))
    cluster = cluster_from(p, args)

    resume, eval_only, checkpoint = (
        args.pop("resume"),
        args.pop("eval_only"),
        args.pop("checkpoint"),
    )
    given = {k: v for k, v in args.items() if v not in (None, False)}
    if resume and eval_only:
        p.error("--resume and --eval-only cannot be combined")
    if eval_only and not checkpoint:
        p.error("--eval-only needs --checkpoint PATH (a run folder's checkpoint.npz)")
    if checkpoint and not eval_only:
        p.error("--checkpoint is only used with --eval-only (to continue a run, use --resume)")
    fixed = set(given) - {"data_dir", "offline"}
    if (resume or eval_only) and fixed:
        flags = ", ".join("--" + k.replace("_", "-") for k in sorted(fixed))
        p.error(
            f"{flags} cannot be changed with {'--resume' if resume else '--eval-only'}: "
            "the run's saved configuration is used"
        )
    return Command(replace(defaults, **given), resume, eval_only, checkpoint, cluster)


CLUSTER_ENV = {  # option -> environment variable read when the option is not given
    "coordinator": "HANDJAX_COORDINATOR",
    "num_processes": "HANDJAX_NUM_PROCESSES",
    "process_id": "HANDJAX_PROCESS_ID",
}


def add_cluster_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("devices and hosts (see README: several devices, several hosts)")
    g.add_argument(
        "--devices",
        type=positive_int,
        metavar="N",
        help="data-parallel over the first N local devices (default: all)",
    )
    g.add_argument(
        "--coordinator",
        metavar="HOST:PORT",
        help="address of process 0, to train with several processes "
        f"(or ${CLUSTER_ENV['coordinator']})",
    )
    g.add_argument(
        "--num-processes",
        type=positive_int,
        metavar="N",
        help=f"number of processes (or ${CLUSTER_ENV['num_processes']})",
    )
    g.add_argument(
        "--process-id",
        type=non_negative_int,
        metavar="I",
        help=f"this process, 0 to N-1 (or ${CLUSTER_ENV['process_id']})",
    )
    g.add_argument(
        "--distributed",
        action="store_true",
        help="let JAX detect the cluster (Slurm, Open MPI, Cloud TPU)",
    )


def cluster_from(p: argparse.ArgumentParser, args: dict) -> Cluster:
    """Pop the cluster options from ``args``, falling back to the environment variables."""
    values = {}
    for key, env in CLUSTER_ENV.items():
        value = args.pop(key)
        if value is None and os.environ.get(env):
            text = os.environ[env]
            try:
                value = text if key == "coordinator" else int(text)
            except ValueError:
                p.error(f"${env}={text!r} is not an integer")
        values[key] = value
    cluster = Cluster(devices=args.pop("devices"), auto=args.pop("distributed"), **values)
    if cluster.coordinator is not None:
        n, i = cluster.num_processes, cluster.process_id
        if n is None or i is None:
            p.error("--coordinator needs --num-processes and --process-id")
        if not 0 <= i < n:
            p.error(f"--process-id {i} must be between 0 and {n - 1}")
    elif cluster.num_processes is not None or cluster.process_id is not None:
        p.error("--num-processes and --process-id need --coordinator HOST:PORT")
    return cluster


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
        raise UsageError(
            f"cannot write to the output folder {folder}: {e.strerror or e}; "
            "choose another with --out"
        ) from None
    return folder, created


def write_json(path: Path, payload: dict) -> None:
    atomic_write(path, (json.dumps(payload, indent=2) + "\n").encode())


EXPECTED_ERRORS = (UsageError, DataError, TrainingDiverged, CheckpointError, ValueError, OSError)


def guarded(
    body: Callable[[], None], cleanup: Callable[[bool], str | None] = lambda interrupted: None
) -> int:
    """Run ``body``; turn an expected failure into one line on stderr and an exit code, after
    ``cleanup(interrupted)`` removes whatever the failed run had started to write (it may
    return a better message, e.g. how to resume an interrupted run)."""
    try:
        body()
        return 0
    except EXPECTED_ERRORS as e:
        code = EXIT_USAGE if isinstance(e, UsageError) else EXIT_FAILURE
        failure = str(e)
        failure = cleanup(False) or failure
    except KeyboardInterrupt:
        code = 130
        failure = cleanup(True) or "interrupted"
    print(f"error: {failure}", file=sys.stderr)
    return code
