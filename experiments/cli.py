"""The command line every experiment shares: its options, each a field of the run's
configuration (experiments/config.py) or of the command around it (resume, evaluate, where).

To add an option: a field in RunConfig (with its default and a comment), one ``a(...)`` line
below (its value type from experiments/options.py), and, if it cannot change on --resume,
nothing more (every field but the data location is fixed then).

Every option is checked here, before any work, and a bad one is named in one line. Environment
variables are read here too (and nowhere deeper), then passed down as values. How a command
ends (its errors and exit codes) is experiments/outcome.py.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace

from data import DATASETS
from data.augment import PRESETS
from data.views import TEST_VIEWS
from experiments.cluster import Cluster
from experiments.cluster_options import add_cluster_options, cluster_from
from experiments.config import ByDataset, RunConfig, default_text, for_dataset
from experiments.options import (
    MAX_SEED,
    CliParser,
    augment_spec,
    non_negative_int,
    positive_float,
    positive_int,
    seed_int,
    smoothing,
)
from nn.precision import PRECISIONS

DATA_DIR_ENV = "HANDJAX_DATA_DIR"  # a data root searched after --data-dir


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


def by_dataset(field: str) -> str:
    """What each registered dataset's entry says for ``field``, for the help text."""
    return ", ".join(f"{getattr(info, field)} for {name}" for name, info in DATASETS.items())


def parse_command(
    argv: Sequence[str] | None,
    name: str,
    doc: str,
    defaults: RunConfig,
    per_dataset: ByDataset | None = None,
) -> Command:
    """The command line of experiments.<name>: ``defaults``, then the recipe's settings for the
    chosen dataset (``per_dataset``: its BY_DATASET, experiments/config.py), then the options
    given."""

    def default(field: str) -> str:
        return default_text(defaults, field, per_dataset)

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
        help=f"data root holding {' and '.join(f'DIR/{d}/' for d in DATASETS)} "
        f"(default: ${DATA_DIR_ENV}, then ~/.cache/handjax/datasets, downloading if needed; "
        "with --resume and --eval-only: where the run found its data)",
    )
    a(
        "--epochs",
        type=positive_int,
        help=f"passes over the training set (default: {default('epochs')})",
    )
    a(
        "--batch-size",
        type=positive_int,
        help=f"examples per step (default: {default('batch_size')})",
    )
    a(
        "--lr",
        type=positive_float,
        help=f"Adam learning rate, the peak of the one-cycle schedule (default: {default('lr')})",
    )
    a("--schedule", choices=["onecycle", "constant"], help=f"default: {default('schedule')}")
    a(
        "--seed",
        type=seed_int,
        help=f"seed for initialisation, order and dropout, 0 to {MAX_SEED} "
        f"(default: {default('seed')})",
    )
    a(
        "--validation",
        type=non_negative_int,
        metavar="N",
        help=f"hold out N training examples for validation (default: {default('validation')})",
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
        f"auto (the dataset's preset: {by_dataset('augment')}), or "
        "key=value,... such as rotate=10,shift=2,elastic=20 or mnist,elastic=0 "
        f"(see data/augment.py; default: {default('augment')})",
    )
    a(
        "--label-smoothing",
        type=smoothing,
        metavar="S",
        help=f"label smoothing of the loss, in [0, 1) (default: {default('label_smoothing')})",
    )
    a(
        "--tta",
        choices=[*TEST_VIEWS, "auto"],
        help="test-time augmentation: average the test predictions over the image and its "
        "mirror image (flip) or its one-pixel shifts (shifts); auto: the dataset's views "
        f"({by_dataset('test_views')}) (default: {default('tta')})",
    )
    a(
        "--precision",
        choices=list(PRECISIONS),
        help="the conv and dense layers' products: float32, or bfloat16 operands with float32 "
        f"accumulation, weights and optimizer (default: {default('precision')})",
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
    dataset = given.get("dataset", defaults.dataset)
    return Command(
        replace(for_dataset(defaults, dataset, per_dataset), **given),
        resume=resume,
        eval_only=eval_only,
        checkpoint=checkpoint,
        cluster=cluster,
        overwrite=overwrite,
        env_data_dir=env_data_dir,
        eval_tta=eval_tta,
    )
