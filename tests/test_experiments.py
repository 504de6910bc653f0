"""Each seed experiment runs end to end on a small subset of the real data and writes its outputs;
the comparison runs on those outputs."""

import json

import pytest

from tests.cli import assert_one_line_error, assert_real_image, run_module

pytestmark = pytest.mark.slow

MODELS = {  # module: (dataset, parameters)
    "experiments.softmax": ("mnist", 7_850),
    "experiments.hidden": ("mnist", 101_770),
    "experiments.mlp": ("mnist", 118_282),
    "experiments.seed_cnn": ("fashion-mnist", 263_882),
    "experiments.fast": ("mnist", 105_866),
}


@pytest.fixture(scope="module")
def runs(shared_data_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    done = {}
    for module, (dataset, _) in MODELS.items():
        out = root / module.split(".")[1]
        proc = run_module(
            module,
            "--dataset",
            dataset,
            "--data-dir",
            shared_data_dir,
            "--subset",
            "3000",
            "--epochs",
            "2",
            "--offline",
            "--out",
            out,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        done[module] = (proc, out)
    return done


@pytest.mark.parametrize("module", list(MODELS))
def test_experiment_writes_metrics_report_and_figures(runs, module):
    proc, out = runs[module]
    dataset, params = MODELS[module]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["parameters"] == params
    assert metrics["config"]["dataset"] == dataset and metrics["config"]["subset"] == 3000
    assert 0.5 < metrics["test_accuracy"] <= 1.0  # 10 classes: chance is 0.1
    assert len(metrics["history"]) == 2
    assert "Epoch 2/2" in proc.stdout and "precision specificity F1_scores" in proc.stdout
    if dataset == "fashion-mnist":
        assert "for classes: T-shirt/top" in proc.stdout
    assert_real_image(out / "confusion_matrix.png")
    assert_real_image(out / "saliency.png")  # every experiment explains some of its answers
    assert "saliency.png" in metrics["figures"]


def test_mlp_defaults_are_the_seeds_recipe():
    from experiments.recipes import mlp

    assert (mlp.DEFAULTS.epochs, mlp.DEFAULTS.batch_size, mlp.DEFAULTS.lr) == (10, 512, 1e-3)
    kinds = [type(layer).__name__ for layer in mlp.build_model(10).layers]
    assert kinds == ["Flatten", "Dense", "ReLU", "Dense", "ReLU", "Dropout", "Dense"]


def test_compare_reads_finished_runs_into_a_table_and_chart(runs, tmp_path):
    dirs = [str(out) for _, out in runs.values()]
    proc = run_module("experiments.compare", "--runs", *dirs, "--out", tmp_path / "cmp")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads((tmp_path / "cmp" / "comparison.json").read_text())["rows"]
    assert [r["model"] for r in rows] == ["softmax", "hidden", "mlp", "seed_cnn", "fast"]
    table = (tmp_path / "cmp" / "comparison.md").read_text()
    assert "| seed_cnn | fashion-mnist |" in table
    assert_real_image(tmp_path / "cmp" / "comparison.png")


def test_compare_refuses_a_folder_without_metrics(tmp_path):
    proc = run_module("experiments.compare", "--runs", tmp_path, "--out", tmp_path / "cmp")
    assert_one_line_error(proc, "metrics.json not found")


def test_overwrite_replaces_a_finished_run_and_nothing_else(shared_data_dir, tmp_path):
    """--overwrite removes the old run's checkpoint, metrics.json and the figures it lists,
    keeps whatever else the user put in the folder, and leaves the new run in their place."""
    out = tmp_path / "run"
    args = ["--data-dir", shared_data_dir, "--subset", "1000", "--epochs", "1", "--offline"]
    first = run_module("experiments.softmax", *args, "--out", out)
    assert first.returncode == 0, first.stderr[-3000:]
    old = json.loads((out / "metrics.json").read_text())
    old["figures"].append("old-figure.png")
    (out / "metrics.json").write_text(json.dumps(old))
    (out / "old-figure.png").write_bytes(b"a figure of the old run")
    (out / "notes.txt").write_text("the user's own file")

    again = run_module("experiments.softmax", *args, "--seed", "1", "--out", out, "--overwrite")
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"Replacing the run in {out} (--overwrite)" in again.stdout
    new = json.loads((out / "metrics.json").read_text())
    assert new["config"]["seed"] == 1 and "old-figure.png" not in new["figures"]
    assert not (out / "old-figure.png").exists()
    assert (out / "notes.txt").read_text() == "the user's own file"
    kept = [*new["figures"], "checkpoint.npz", "metrics.json", "notes.txt"]
    assert sorted(p.name for p in out.iterdir()) == sorted(kept)
