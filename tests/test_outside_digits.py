"""benchmarks.digit_set and benchmarks.outside_digits: the set is deterministic and complete,
every file reads as an MNIST-like input through experiments.predict, the scores count what they
claim, and the command scores a real (tiny) checkpoint."""

import json

import numpy as np
import pytest

from benchmarks import digit_set
from benchmarks import outside_digits as od
from tests.cli import assert_real_image, run_module

PIL = pytest.importorskip("PIL.Image")


@pytest.fixture(scope="module")
def small_set():
    return list(digit_set.generate(per_class=3, seed=0, uci=False))


def test_the_set_is_deterministic_in_its_seed(small_set):
    again = list(digit_set.generate(per_class=3, seed=0, uci=False))
    assert [s.data for s in again] == [s.data for s in small_set]
    other = list(digit_set.generate(per_class=3, seed=1, uci=False))
    assert sum(a.data != b.data for a, b in zip(other, small_set, strict=True)) == len(small_set)


def test_every_category_draws_every_class_in_every_style(small_set):
    for cat in digit_set.CATEGORIES:
        mine = [s for s in small_set if s.category == cat.name]
        assert len(mine) == 30
        assert sorted({s.label for s in mine}) == list(range(10))
        styles = {s.style for s in mine}  # 3 per class covers every style (at most 3 each)
        assert styles == {
            f"{d} {name}" for d, named in digit_set.SKELETONS.items() for name in named
        }


def test_every_file_reads_as_an_mnist_input_through_predict(small_set):
    from data.images import decode_gray

    inputs = od.preprocess(small_set)
    assert inputs.shape == (len(small_set), 28, 28) and inputs.dtype == np.float32
    assert inputs.min() >= 0 and inputs.max() <= 1
    assert (inputs.max(axis=(1, 2)) > 0.3).all()  # a digit found in every picture
    sizes = {decode_gray(s.data, "").shape for s in small_set}
    assert len(sizes) > 20  # pictures of many sizes, as users' files are
    heads = {s.data[:4] for s in small_set}
    assert heads == {b"\x89PNG", b"\xff\xd8\xff\xe0"}  # PNG, and JPEG for the photographs


def test_uci_digits_are_used_only_when_scikit_learn_gives_them(monkeypatch):
    monkeypatch.setattr(digit_set, "uci_digits", lambda: None)
    assert {s.category for s in digit_set.generate(per_class=1, uci=True)} == {
        c.name for c in digit_set.CATEGORIES
    }
    images = np.zeros((2, 8, 8))
    images[:, 1:7, 3:5] = 16  # a bar, ink high as in load_digits
    monkeypatch.setattr(digit_set, "uci_digits", lambda: (images, np.array([1, 1])))
    uci = [s for s in digit_set.generate(per_class=1, uci=True) if s.category == digit_set.UCI]
    assert [s.label for s in uci] == [1, 1]
    assert od.preprocess(uci).shape == (2, 28, 28)


def test_scores_count_per_category_and_name_the_worst_classes():
    samples = [digit_set.Sample("a", f"{k} s", k, b"") for k in range(10)] * 2
    samples += [digit_set.Sample(digit_set.UCI, "", k, b"") for k in range(10)]
    predictions = np.array([*range(10), *range(10), 7, *range(1, 10)])  # one UCI 0 read as 7
    result = od.score(samples, predictions)
    assert result["overall"] == pytest.approx(29 / 30) and result["drawn"] == 1.0
    assert result["categories"]["a"]["accuracy"] == 1.0
    uci = result["categories"][digit_set.UCI]
    assert uci["accuracy"] == pytest.approx(0.9) and uci["count"] == 10
    assert uci["worst"][0] == {"class": 0, "recall": 0.0, "read_as": 7}
    assert np.array(uci["confusion"]).sum() == 10 and uci["confusion"][0][7] == 1
    assert result["categories"]["a"]["styles"]["3 s"] == 1.0
    assert "overall" in od.format_report(result)


@pytest.mark.slow
def test_command_scores_a_tiny_checkpoint_and_saves_grids(shared_data_dir, tmp_path):
    pytest.importorskip("matplotlib")
    run = tmp_path / "run"
    proc = run_module(
        "experiments.cnn",
        "--data-dir",
        shared_data_dir,
        "--subset",
        "2000",
        "--epochs",
        "1",
        "--offline",
        "--out",
        run,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = tmp_path / "scores.json"
    proc = run_module(
        "benchmarks.outside_digits",
        "--checkpoint",
        run / "checkpoint.npz",
        "--per-class",
        "2",
        "--no-uci",
        "--json",
        out,
        "--save-samples",
        tmp_path / "grids",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert set(result["categories"]) == {c.name for c in digit_set.CATEGORIES}
    assert (
        result["count"] == 20 * len(digit_set.CATEGORIES) and result["uci"] == "skipped: --no-uci"
    )
    assert 0.2 < result["overall"] <= 1.0  # a 1-epoch model on 2,000 digits beats chance
    for cat in digit_set.CATEGORIES:
        assert f"{cat.name} " in proc.stdout
    grids = sorted((tmp_path / "grids").iterdir())
    assert len(grids) == len(digit_set.CATEGORIES)
    assert_real_image(grids[0])


def test_bad_per_class_is_a_one_line_usage_error():
    from tests.cli import assert_one_line_error

    proc = run_module("benchmarks.outside_digits", "--checkpoint", "x.npz", "--per-class", "0")
    assert_one_line_error(proc, "--per-class")
