"""The command line every experiment shares and its configuration.

Every option is checked here, before any work, and a bad one is named in one line. Environment
variables are read here too (and nowhere deeper), then passed down as values. How a command
ends (its errors and exit codes) is experiments/outcome.py.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from typing import NoReturn

from data import DATASETS
from data.augment import PRESETS, TEST_VIEWS, describe, parse_augment
from experiments.cluster import Cluster
from experiments.outcome import EXIT_USAGE
from nn.precision import PRECISIONS

DATA_DIR_ENV = "HANDJAX_DATA_DIR"  # a data root searched after --data-dir
MAX_SEED = 2**32 - 1  # JAX keeps the low 32 bits of a seed (2**32 would repeat seed 0)


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
    augment: str = "none"  # augmentation on the device (data/augment.py): a preset or key=value,..
    label_smoothing: float = 0.0  # s of the target's mass spread over all classes (nn/losses.py)
    tta: str = "none"  # test-time augmentation: views averaged at evaluation (data/augment.py)
    eval_batch_size: int = 250  # examples per evaluation step (bounds the activation memory)
    precision: str = "f32"  # the conv and dense products: "f32" or "bf16" (nn/precision.py)

    @property
    def augmentation(self) -> str:
        """The --augment value with "auto" replaced by the dataset's preset."""
        return AUGMENT_AUTO[self.dataset] if self.augment == "auto" else self.augment

    @property
    def test_views(self) -> str:
        """The --tta value with "auto" replaced by the dataset's views."""
        return TTA_AUTO[self.dataset] if self.tta == "auto" else self.tta

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
    overwrite: bool = False  # replace a run already in the --out folder
    env_data_dir: str | None = None  # $HANDJAX_DATA_DIR: a data root searched after --data-dir
    eval_tta: str | None = None  # --tta given with --eval-only: replaces the run's saved one


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


def number_in(text: str, ok: Callable[[float], bool], what: str) -> float:
    """float(text) when ``ok`` accepts it; otherwise an error saying it must be ``what``."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")  # accepted by no range
    if not ok(value):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
    return value


def positive_float(text: str) -> float:
    return number_in(text, lambda v: 0 < v < float("inf"), "a positive finite number")


def non_negative_int(text: str) -> int:
    value = int(text) if text.lstrip("-").isdigit() else -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def seed_int(text: str) -> int:
    value = int(text) if text.strip().lstrip("+-").isdigit() else -1
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be an integer from 0 to {MAX_SEED}, got {text!r}")
    return value


def smoothing(text: str) -> float:
    return number_in(text, lambda v: 0 <= v < 1, "a number in [0, 1)")


AUGMENT_AUTO = {"mnist": "mnist", "fashion-mnist": "fashion"}  # --augment auto, by dataset
TTA_AUTO = {"mnist": "none", "fashion-mnist": "flip"}  # --tta auto (shifts: no gain on MNIST)


def augment_spec(text: str) -> str:
    """A valid --augment value, in its canonical form (data.augment.describe), or "auto"."""
    if text == "auto":
        return text
    try:
        return describe(parse_augment(text))
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


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
        f"(default: ${DATA_DIR_ENV}, then ~/.cache/handjax/datasets, downloading if needed; "
        "with --resume and --eval-only: where the run found its data)",
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
        type=seed_int,
        help=f"seed for initialisation, order and dropout, 0 to {MAX_SEED} "
        f"(default: {defaults.seed})",
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
    a(
        "--augment",
        type=augment_spec,
        metavar="SPEC",
        help=f"augment every training batch on the device: a preset ({', '.join(PRESETS)}), "
        "auto (the dataset's preset), or "
        "key=value,... such as rotate=10,shift=2,elastic=20 or mnist,elastic=0 "
        f"(see data/augment.py; default: {defaults.augment})",
    )
    a(
        "--label-smoothing",
        type=smoothing,
        metavar="S",
        help=f"label smoothing of the loss, in [0, 1) (default: {defaults.label_smoothing})",
    )
    a(
        "--tta",
        choices=[*TEST_VIEWS, "auto"],
        help="test-time augmentation: average the test predictions over the image and its "
        "mirror image (flip) or its one-pixel shifts (shifts); auto: flip for Fashion-MNIST, "
        f"none for MNIST (default: {defaults.tta})",
    )
    a(
        "--precision",
        choices=list(PRECISIONS),
        help="the conv and dense layers' products: float32, or bfloat16 operands with float32 "
        f"accumulation, weights and optimizer (default: {defaults.precision})",
    )
    a("--out", metavar="DIR", help="run folder (default: runs/<experiment>-<time>)")
    a(
        "--overwrite",
        action="store_true",
        help="replace the run already in the --out folder (without it, such a folder is refused)",
    )
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

    resume, eval_only, checkpoint, overwrite = (
        args.pop("resume"),
        args.pop("eval_only"),
        args.pop("checkpoint"),
        args.pop("overwrite"),
    )
    given = {k: v for k, v in args.items() if v is not None and v is not False}
    if resume and eval_only:
        p.error("--resume and --eval-only cannot be combined")
    if overwrite and (resume or eval_only):
        p.error(
            f"--overwrite cannot be combined with {'--resume' if resume else '--eval-only'}, "
            "which never replace a run"
        )
    if eval_only and not checkpoint:
        p.error("--eval-only needs --checkpoint PATH (a run folder's checkpoint.npz)")
    if checkpoint and not eval_only:
        p.error("--checkpoint is only used with --eval-only (to continue a run, use --resume)")
    fixed = set(given) - {"data_dir", "offline"} - ({"tta"} if eval_only else set())
    if (resume or eval_only) and fixed:
        flags = ", ".join("--" + k.replace("_", "-") for k in sorted(fixed))
        p.error(
            f"{flags} cannot be changed with {'--resume' if resume else '--eval-only'}: "
            "the run's saved configuration is used"
        )
    env_data_dir = os.environ.get(DATA_DIR_ENV) or None
    eval_tta = given.get("tta") if eval_only else None
    return Command(
        replace(defaults, **given),
        resume=resume,
        eval_only=eval_only,
        checkpoint=checkpoint,
        cluster=cluster,
        overwrite=overwrite,
        env_data_dir=env_data_dir,
        eval_tta=eval_tta,
    )


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
        type=coordinator_address,
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


def coordinator_address(text: str) -> str:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(
            f"expected HOST:PORT with a port from 1 to 65535, got {text!r}"
        )
    return text


CLUSTER_TYPES = {  # option -> its type, applied to the environment variable too
    "coordinator": coordinator_address,
    "num_processes": positive_int,
    "process_id": non_negative_int,
}


def cluster_from(p: argparse.ArgumentParser, args: dict) -> Cluster:
    """Pop the cluster options from ``args``, falling back to the environment variables, which
    are checked as the options are."""
    values = {}
    for key, env in CLUSTER_ENV.items():
        value = args.pop(key)
        if value is None and os.environ.get(env):
            text = os.environ[env]
            try:
                value = CLUSTER_TYPES[key](text)
            except argparse.ArgumentTypeError as e:
                p.error(f"${env}: {e}")
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
