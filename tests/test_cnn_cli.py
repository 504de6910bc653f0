"""End to end: `python -m experiments.cnn` on the real MNIST files, and its answers to bad input."""

import json

import pytest

from tests.cli import assert_real_image, run_module

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def one_epoch_run(shared_data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "cnn"
    proc = run_module(
        "experiments.cnn", "--data-dir", shared_data_dir, "--epochs", "1", "--offline", "--out", out
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc, out


def test_one_epoch_reaches_a_real_accuracy_floor(one_epoch_run):
    proc, out = one_epoch_run
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_accuracy"] >= 0.98  # one epoch of the default recipe
    assert 0 < metrics["test_loss"] < 0.1
    assert len(metrics["history"]) == 1  # training accuracy is on augmented images: lower
    assert metrics["history"][0]["accuracy"] > 0.8
    assert metrics["config"]["epochs"] == 1 and metrics["config"]["dataset"] == "mnist"
    assert metrics["train_seconds"] > 0 and metrics["eval_seconds"] > 0
    assert metrics["jax_version"] and metrics["device"].split()[0] in ("CPU", "GPU", "TPU")
    assert metrics["parameters"] == 98_442
    report = metrics["report"]
    assert sum(map(sum, report["confusion_matrix"])) == 10_000
    assert report["per_class"]["tp"] and abs(report["accuracy"] - metrics["test_accuracy"]) < 1e-9
    assert (out / "checkpoint.npz").stat().st_size > 100_000


def test_prints_keras_style_progress_summary_and_sample_predictions(one_epoch_run):
    proc, _ = one_epoch_run
    text = proc.stdout
    assert "Running on CPU" in text or "Running on GPU" in text
    assert "Total params: 98,442" in text
    assert "Epoch 1/1" in text
    assert "468/468 [==============================] - " in text and "ms/step - loss: " in text
    assert "predicted: [" in text and "actual:    [7, 2, 1, 0, 4" in text
    assert "for digits: 0" in text and "precision specificity F1_scores" in text


def test_writes_the_figures(one_epoch_run):
    _, out = one_epoch_run
    for name in (
        "curves",
        "confusion_matrix",
        "predictions",
        "mistakes",
        "classes",
        "saliency",
        "augmented",
    ):
        assert_real_image(out / f"{name}.png")
    assert "saliency.png" in json.loads((out / "metrics.json").read_text())["figures"]
