"""End to end: `python -m experiments.cnn` on the real MNIST files, and its answers to bad input."""

import json

import pytest

from tests.cli import assert_one_line_error, assert_real_image, run_module

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
    assert len(metrics["history"]) == 1 and metrics["history"][0]["accuracy"] > 0.9
    assert metrics["config"]["epochs"] == 1 and metrics["config"]["dataset"] == "mnist"
    assert metrics["train_seconds"] > 0 and metrics["eval_seconds"] > 0
    assert metrics["jax_version"] and "CPU" in metrics["device"] or "GPU" in metrics["device"]
    assert metrics["parameters"] == 421_642
    report = metrics["report"]
    assert sum(map(sum, report["confusion_matrix"])) == 10_000
    assert report["per_class"]["tp"] and abs(report["accuracy"] - metrics["test_accuracy"]) < 1e-9
    assert (out / "checkpoint.npz").stat().st_size > 100_000


def test_prints_keras_style_progress_summary_and_sample_predictions(one_epoch_run):
    proc, _ = one_epoch_run
    text = proc.stdout
    assert "Running on CPU" in text or "Running on GPU" in text
    assert "Total params: 421,642" in text
    assert "Epoch 1/1" in text
    assert "1875/1875 [==============================] - " in text and "ms/step - loss: " in text
    assert "predicted: [" in text and "actual:    [7, 2, 1, 0, 4" in text
    assert "for digits: 0" in text and "precision specificity F1_scores" in text


def test_writes_the_figures(one_epoch_run):
    _, out = one_epoch_run
    for name in ("curves", "confusion_matrix", "predictions", "mistakes", "classes"):
        assert_real_image(out / f"{name}.png")


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--dataset", "cifar10"], ["invalid choice: 'cifar10'"]),
        (["--epochs", "0"], ["--epochs", "positive integer"]),
        (["--batch-size", "-3"], ["--batch-size", "positive integer"]),
        (["--lr", "nan"], ["--lr", "positive finite"]),
        (["--batch-size", "60001"], ["--batch-size 60001 is larger than the 60000"]),
    ],
)
def test_bad_options_get_one_clear_line(args, needles, shared_data_dir, tmp_path):
    out = tmp_path / "never"
    proc = run_module(
        "experiments.cnn", "--data-dir", shared_data_dir, "--offline", "--out", out, *args
    )
    assert_one_line_error(proc, *needles)
    assert not out.exists()


def test_missing_data_offline_names_the_folder_and_files(tmp_path):
    proc = run_module(
        "experiments.cnn",
        "--data-dir",
        tmp_path / "empty",
        "--offline",
        "--out",
        tmp_path / "out",
        env={"XDG_CACHE_HOME": str(tmp_path / "c"), "HANDJAX_DATA_DIR": ""},
    )
    assert_one_line_error(proc, str(tmp_path / "empty" / "mnist"), "train-images-idx3-ubyte.gz")
    assert not (tmp_path / "out").exists()


def test_unwritable_output_folder_is_refused_before_training(shared_data_dir, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    proc = run_module(
        "experiments.cnn", "--data-dir", shared_data_dir, "--offline", "--out", blocker / "run"
    )
    assert_one_line_error(proc, "cannot write to the output folder", "--out")
    assert "Epoch" not in proc.stdout


def test_nan_loss_stops_the_run_naming_epoch_and_step(shared_data_dir, tmp_path):
    out = tmp_path / "run"
    proc = run_module(
        "experiments.cnn",
        "--data-dir",
        shared_data_dir,
        "--offline",
        "--lr",
        "1e15",
        "--schedule",
        "constant",
        "--out",
        out,
    )
    assert_one_line_error(proc, "NaN or infinite at epoch 1, step", "--lr")
    assert not out.exists()  # the folder it created is removed: nothing half-written
