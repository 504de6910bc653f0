"""Which checkpoint experiments.predict and experiments.draw use when none is given."""

import json
import os
from pathlib import Path

import pytest

from experiments.outcome import UsageError
from experiments.predictor import newest_checkpoint


def make_run(runs: Path, name: str, when: float, *, finished: bool, accuracy: float = 0.99) -> Path:
    folder = runs / name
    folder.mkdir(parents=True)
    checkpoint = folder / "checkpoint.npz"
    checkpoint.write_bytes(b"not read by the choice")
    os.utime(checkpoint, (when, when))
    if finished:
        metrics = folder / "metrics.json"
        experiment = name.split("-")[0]
        config = {"dataset": "fashion-mnist" if "fashion" in name else "mnist"}
        metrics.write_text(
            json.dumps({"experiment": experiment, "test_accuracy": accuracy, "config": config})
        )
        os.utime(metrics, (when + 1, when + 1))
    return checkpoint


def test_the_run_finished_last_is_chosen_whatever_its_experiment(tmp_path, capsys):
    make_run(tmp_path, "cnn-1", 1000, finished=True)
    chosen = make_run(tmp_path, "best-2", 3000, finished=True, accuracy=0.9961)
    make_run(tmp_path, "fast-3", 2000, finished=True)
    assert newest_checkpoint(tmp_path) == chosen
    said = capsys.readouterr().out
    assert str(chosen) in said and "experiments.best on mnist" in said and "99.61%" in said


def test_a_finished_run_wins_over_a_newer_unfinished_one(tmp_path):
    chosen = make_run(tmp_path, "cnn-1", 1000, finished=True)
    make_run(tmp_path, "cnn-2", 5000, finished=False)
    assert newest_checkpoint(tmp_path) == chosen


def test_without_a_finished_run_the_newest_checkpoint_is_used_and_said(tmp_path, capsys):
    make_run(tmp_path, "cnn-1", 1000, finished=False)
    chosen = make_run(tmp_path, "cnn-2", 2000, finished=False)
    assert newest_checkpoint(tmp_path) == chosen
    assert "no run under runs/ has finished yet" in capsys.readouterr().out


def test_no_checkpoint_at_all_is_a_usage_error_that_says_how_to_get_one(tmp_path):
    with pytest.raises(UsageError, match="python -m experiments.cnn"):
        newest_checkpoint(tmp_path / "runs")
