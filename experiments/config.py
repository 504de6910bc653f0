"""What a run trains: the configuration every experiment states its defaults in
(``DEFAULTS = RunConfig(...)`` in experiments/recipes/cnn.py and the others), which the command line
(experiments/cli.py) overrides option by option and every checkpoint and metrics.json records.

A recipe may also state settings that differ on some dataset (``BY_DATASET`` in
experiments/recipes/cnn.py): they replace its defaults when that dataset is chosen, and an option
given on the command line replaces both.

A plain module: a recipe states its defaults without importing the command line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from data import get_dataset


@dataclass(frozen=True)
class RunConfig:
    dataset: str = "mnist"  # a name in data/registry.py: "mnist" or "fashion-mnist"
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
    tta: str = "none"  # test-time augmentation: views averaged at evaluation (data/views.py)
    eval_batch_size: int = 250  # examples per evaluation step (bounds the activation memory)
    precision: str = "f32"  # the conv and dense products: "f32" or "bf16" (nn/precision.py)

    @property
    def augmentation(self) -> str:
        """The --augment value with "auto" replaced by the dataset's preset (its registry
        entry's ``augment``)."""
        return get_dataset(self.dataset).augment if self.augment == "auto" else self.augment

    @property
    def test_views(self) -> str:
        """The --tta value with "auto" replaced by the dataset's views (its registry entry's
        ``test_views``)."""
        return get_dataset(self.dataset).test_views if self.tta == "auto" else self.tta

    @staticmethod
    def from_dict(d: dict) -> RunConfig:
        names = {f.name for f in fields(RunConfig)}
        return RunConfig(**{k: v for k, v in d.items() if k in names})


ByDataset = Mapping[str, Mapping[str, Any]]  # dataset name -> RunConfig fields that differ there


def for_dataset(defaults: RunConfig, dataset: str, by_dataset: ByDataset | None) -> RunConfig:
    """A recipe's ``defaults`` with its settings for ``dataset`` (its ``BY_DATASET`` entry)."""
    return replace(defaults, dataset=dataset, **(by_dataset or {}).get(dataset, {}))


def default_text(defaults: RunConfig, field: str, by_dataset: ByDataset | None) -> str:
    """How --help states a default: "4", or "4; fashion-mnist: 6" where a dataset differs."""
    differs = [f"; {d}: {v[field]}" for d, v in (by_dataset or {}).items() if field in v]
    return f"{getattr(defaults, field)}{''.join(differs)}"
