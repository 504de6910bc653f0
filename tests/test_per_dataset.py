"""A recipe's settings for one dataset (its BY_DATASET, experiments/config.py): they replace its
defaults on that dataset only, an option given on the command line replaces both, and --help
names them."""

from __future__ import annotations

import pytest

from experiments.cli import parse_command
from experiments.config import RunConfig, default_text, for_dataset

DEFAULTS = RunConfig(epochs=4, label_smoothing=0.0, lr=1e-2)
PER_DATASET = {"fashion-mnist": {"epochs": 6, "label_smoothing": 0.1}}


def config(*argv: str) -> RunConfig:
    return parse_command(list(argv), "cnn", "doc", DEFAULTS, PER_DATASET).cfg


def test_the_defaults_hold_on_a_dataset_without_settings_of_its_own():
    assert config() == DEFAULTS
    assert config("--dataset", "mnist") == DEFAULTS


def test_a_datasets_settings_replace_the_defaults_there():
    cfg = config("--dataset", "fashion-mnist")
    assert (cfg.dataset, cfg.epochs, cfg.label_smoothing, cfg.lr) == ("fashion-mnist", 6, 0.1, 1e-2)
    assert cfg == for_dataset(DEFAULTS, "fashion-mnist", PER_DATASET)


@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist"])
def test_an_option_given_replaces_both(dataset):
    cfg = config("--dataset", dataset, "--epochs", "2", "--label-smoothing", "0.05")
    assert (cfg.epochs, cfg.label_smoothing) == (2, 0.05)


def test_help_names_the_setting_of_each_dataset_that_differs(capsys):
    assert default_text(DEFAULTS, "epochs", PER_DATASET) == "4; fashion-mnist: 6"
    assert default_text(DEFAULTS, "lr", PER_DATASET) == "0.01"
    assert default_text(DEFAULTS, "epochs", None) == "4"
    with pytest.raises(SystemExit):
        parse_command(["--help"], "cnn", "doc", DEFAULTS, PER_DATASET)
    text = "".join(capsys.readouterr().out.split())  # argparse wraps lines, even at a hyphen
    assert "(default:4;fashion-mnist:6)" in text
    assert "(default:0.0;fashion-mnist:0.1)" in text
