"""Everything the project knows about a dataset sits in its registry entry (data/registry.py),
and everything about an experiment in its recipe module, listed in experiments/registry.py:
every entry is complete, a dataset added only to the registry runs with --augment auto and
--tta auto, and every recipe module is registered, documented and builds for every dataset."""

import ast
import re
from dataclasses import fields, replace

import pytest

from data import DATASETS
from data.augment import PRESETS, make_augment, parse_augment
from data.registry import MNIST
from data.views import TEST_VIEWS
from experiments.cli import parse_command
from experiments.config import RunConfig
from experiments.registry import EXPERIMENTS
from nn import Sequential
from tests.cli import ROOT

README = (ROOT / "README.md").read_text()


@pytest.mark.parametrize("name", list(DATASETS))
def test_every_dataset_entry_is_complete(name):
    info = DATASETS[name]
    assert info.name == name
    for f in info.files:
        assert f.name and f.size > 0 and re.fullmatch(r"[0-9a-f]{64}", f.sha256), f
    assert len(info.class_names) >= 2 and len(set(info.class_names)) == len(info.class_names)
    assert info.mirrors and all(m.startswith("http") and m.endswith("/") for m in info.mirrors)
    assert info.credit
    assert info.augment in PRESETS, f"{name}: augment {info.augment!r} is not a preset"
    assert info.test_views in TEST_VIEWS, f"{name}: test_views {info.test_views!r} unknown"
    side, by_mass, trim = info.framing
    assert 1 <= side <= 28 and isinstance(by_mass, bool) and 0 < trim < 1
    assert f"DIR/{name}/" in README, f"README's data section does not name {name}"


def test_a_dataset_added_only_to_the_registry_runs_with_auto_options(monkeypatch):
    extra = replace(MNIST, name="extra", augment="fashion", test_views="shifts")
    monkeypatch.setitem(DATASETS, "extra", extra)
    cmd = parse_command(["--dataset", "extra", "--augment", "auto", "--tta", "auto"], "cnn", "",
                        RunConfig())  # fmt: skip
    assert cmd.cfg.augmentation == "fashion" and cmd.cfg.test_views == "shifts"
    assert make_augment(parse_augment(cmd.cfg.augmentation)) is not None
    assert len(TEST_VIEWS[cmd.cfg.test_views]) == 4


def recipe_modules() -> list[str]:
    """The recipes in experiments/recipes/: every module there but the package's own."""
    return [p.stem for p in sorted((ROOT / "experiments" / "recipes").glob("[!_]*.py"))]


def test_every_recipe_module_is_registered():
    assert recipe_modules() and set(recipe_modules()) == set(EXPERIMENTS)


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_every_experiment_is_complete(name):
    module = EXPERIMENTS[name]
    assert f"python -m experiments.{name}" in module.__doc__, "its docstring gives its command"
    assert isinstance(module.DEFAULTS, RunConfig) and module.DEFAULTS.dataset in DATASETS
    command = ast.parse((ROOT / "experiments" / f"{name}.py").read_text())  # its command
    runs = [n for n in command.body if isinstance(n, ast.If) and "__main__" in ast.unparse(n.test)]
    call = f"main('{name}', {name}.__doc__, {name}.build_model, {name}.DEFAULTS"
    call += f", per_dataset={name}.BY_DATASET)" if hasattr(module, "BY_DATASET") else ")"
    for dataset, settings in getattr(module, "BY_DATASET", {}).items():  # no typo goes unseen
        assert dataset in DATASETS and dataset != module.DEFAULTS.dataset, dataset
        assert set(settings) <= {f.name for f in fields(RunConfig)} - {"dataset"}, settings
    assert runs and call in ast.unparse(runs[0]), f"experiments/{name}.py does not run {call}"
    for info in DATASETS.values():
        model = module.build_model(info.num_classes)
        assert isinstance(model, Sequential)
        assert model.abstract_init((28, 28, 1))[2][-1] == (info.num_classes,)
    assert f"experiments.{name}" in README, f"the README does not mention experiments.{name}"
