"""Checkpoints, resume and determinism: a run killed with SIGKILL in the middle of an epoch, or
stopped with SIGTERM in the middle of one (which saves that epoch's step), and resumed ends
bit-identical to an uninterrupted run of the same seed; two runs of the same seed agree bit for
bit (CPU); a run folder in use is refused to a second run (a checkpoint killed while being
written: tests/test_files.py). Each runs for the CNN and for experiments.best, whose
BatchNorm statistics, augmentation and label smoothing must resume exactly too."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

from nn.checkpoint import read_meta
from tests.cli import ROOT, assert_one_line_error, assert_real_image, command_env, run_module

pytestmark = pytest.mark.slow

RUNS = {  # experiment -> (arguments, steps per epoch)
    "cnn": (["--subset", "12000", "--epochs", "3", "--offline"], 93),  # batch 128
    "best": (["--subset", "4800", "--epochs", "3", "--batch-size", "64", "--offline"], 75),
}


def arrays(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files if k != "__meta__"}


def numbers(metrics):
    """metrics.json without the wall-clock fields (seconds differ between any two runs)."""
    drop = {"train_seconds", "eval_seconds", "config"}
    out = {k: v for k, v in metrics.items() if k not in drop}
    out["history"] = [{k: v for k, v in row.items() if k != "seconds"} for row in out["history"]]
    return out


class Reference(NamedTuple):
    module: str  # experiments.<name>
    args: list  # its command-line arguments
    steps: int  # steps per epoch
    out: Path  # the uninterrupted run's folder


@pytest.fixture(scope="module", params=list(RUNS))
def reference(request, shared_data_dir, tmp_path_factory):
    args, steps = RUNS[request.param]
    module = f"experiments.{request.param}"
    out = tmp_path_factory.mktemp("ref") / "run"
    proc = run_module(module, "--data-dir", shared_data_dir, *args, "--out", out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return Reference(module, args, steps, out)


def test_same_seed_gives_bit_identical_parameters_and_metrics(reference, shared_data_dir, tmp_path):
    out = tmp_path / "again"
    proc = run_module(
        reference.module, "--data-dir", shared_data_dir, *reference.args, "--out", out
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    a, b = arrays(reference.out / "checkpoint.npz"), arrays(out / "checkpoint.npz")
    assert a.keys() == b.keys() and any(k.startswith(".opt_state") for k in a)
    if reference.module == "experiments.best":  # the BatchNorm statistics are saved
        assert any(k.startswith(".model_state") for k in a)
        # and its augmentation is shown beside the other figures
        figures = json.loads((reference.out / "metrics.json").read_text())["figures"]
        assert "augmented.png" in figures
        assert_real_image(reference.out / "augmented.png")
    for k in a:
        assert np.array_equal(a[k], b[k]), k
    ma = json.loads((reference.out / "metrics.json").read_text())
    mb = json.loads((out / "metrics.json").read_text())
    assert numbers(ma) == numbers(mb)


def test_killed_mid_epoch_then_resumed_equals_uninterrupted(reference, shared_data_dir, tmp_path):
    out = tmp_path / "killed"
    cmd = [
        sys.executable,
        "-m",
        reference.module,
        "--data-dir",
        str(shared_data_dir),
        *reference.args,
        "--out",
        str(out),
    ]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=command_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300
        for line in proc.stdout:  # wait until epoch 2 has started
            if line.startswith("Epoch 2/3") or time.monotonic() > deadline:
                break
        time.sleep(0.4)  # well inside epoch 2 (an epoch takes seconds here)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert read_meta(out / "checkpoint.npz")["epoch"] == 1  # killed during epoch 2
    assert not (out / "metrics.json").exists()
    assert (out / ".lock").exists()  # the killed run's lock file remains, and must not count

    resumed = run_module(
        reference.module, "--resume", out, "--data-dir", shared_data_dir, "--offline"
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Resuming" in resumed.stdout and "Epoch 2/3" in resumed.stdout
    assert "Epoch 1/3" not in resumed.stdout
    a, b = arrays(reference.out / "checkpoint.npz"), arrays(out / "checkpoint.npz")
    for k in a:
        assert np.array_equal(a[k], b[k]), k
    ma = json.loads((reference.out / "metrics.json").read_text())
    mb = json.loads((out / "metrics.json").read_text())
    assert numbers(ma) == numbers(mb)


def test_sigterm_mid_epoch_saves_the_step_and_resumes_bit_identical(
    reference, shared_data_dir, tmp_path
):
    """SIGTERM inside epoch 2 saves a checkpoint at the next step boundary with that step and
    the epoch's running sums, exits 143 naming --resume; resumed without --data-dir (the run
    recorded where its data was, and nothing else would find it), it ends exactly as the
    reference. While the first run holds the folder, a second run on it is refused."""
    out = tmp_path / "stopped"
    cmd = [sys.executable, "-m", reference.module, "--data-dir", str(shared_data_dir)]
    cmd += reference.args
    proc = subprocess.Popen(
        [*cmd, "--out", str(out)],
        cwd=ROOT,
        env=command_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in proc.stdout:  # wait until epoch 2 has started
            if line.startswith("Epoch 2/3"):
                break
        proc.send_signal(signal.SIGSTOP)  # hold it inside epoch 2, holding its run folder
        second = run_module(*cmd[2:], "--out", out, "--overwrite")
        assert_one_line_error(second, f"{out} is in use by another run (process {proc.pid}")
        proc.send_signal(signal.SIGTERM)  # delivered when it continues
        proc.send_signal(signal.SIGCONT)
        _, err = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert f"continue with: python -m {reference.module} --resume {out}" in err
    meta = read_meta(out / "checkpoint.npz")
    assert meta["epoch"] == 1 and 0 < meta["step"] < reference.steps  # inside epoch 2
    assert meta["epoch_sums"]["steps"] == meta["step"]
    assert not (out / "metrics.json").exists()

    empty = {"HANDJAX_DATA_DIR": "", "XDG_CACHE_HOME": str(tmp_path / "no-cache")}
    resumed = run_module(reference.module, "--resume", out, "--offline", env=empty)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"where the run found it, in {shared_data_dir.absolute()}" in resumed.stdout
    assert f"step {meta['step']}/{reference.steps} of epoch 2" in resumed.stdout
    assert "Epoch 1/3" not in resumed.stdout and "Epoch 2/3" in resumed.stdout
    a, b = arrays(reference.out / "checkpoint.npz"), arrays(out / "checkpoint.npz")
    for k in a:
        assert np.array_equal(a[k], b[k]), k
    ma = json.loads((reference.out / "metrics.json").read_text())
    mb = json.loads((out / "metrics.json").read_text())
    assert numbers(ma) == numbers(mb)
    assert not (out / ".lock").exists()  # released when the run ended


def test_eval_only_reports_the_checkpoints_accuracy(reference, shared_data_dir):
    proc = run_module(
        reference.module,
        "--eval-only",
        "--checkpoint",
        reference.out / "checkpoint.npz",
        "--data-dir",
        shared_data_dir,
        "--offline",
    )
    assert proc.returncode == 0, proc.stderr
    accuracy = json.loads((reference.out / "metrics.json").read_text())["test_accuracy"]
    assert f"test accuracy: {accuracy:.4f}" in proc.stdout
    assert "Epoch" not in proc.stdout and "precision specificity" in proc.stdout
    shifts = "Test-time augmentation: shifts (the mean of 5 views)"  # MNIST's views
    views = {"experiments.cnn": shifts, "experiments.best": shifts}.get(reference.module)
    said = [line for line in proc.stdout.splitlines() if line.startswith("Test-time")]
    assert said == ([views] if views else []), said  # the recipe's own views, as in training


def test_eval_only_with_tta_reports_the_mean_over_the_image_and_its_mirror(
    reference, shared_data_dir
):
    from data import load_dataset
    from data.load import subset
    from data.views import mirror
    from experiments.predictor import load_model
    from nn.batches import to_device
    from nn.evaluate import evaluate, make_eval_step

    path = reference.out / "checkpoint.npz"
    proc = run_module(
        reference.module, "--eval-only", "--checkpoint", path, "--tta", "flip",
        "--data-dir", shared_data_dir, "--offline",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Test-time augmentation: flip (the mean of 2 views)" in proc.stdout
    model, weights, meta = load_model(path)
    ds = subset(load_dataset("mnist", shared_data_dir), meta["config"]["subset"])
    test = to_device(ds.x_test, ds.y_test)
    plain = evaluate(make_eval_step(model), *weights, test, 250).accuracy
    both = evaluate(make_eval_step(model, (mirror,)), *weights, test, 250).accuracy
    assert plain != both  # mirrored digits change the answer, so the check below can fail
    assert f"test accuracy: {both:.4f}" in proc.stdout


def test_eval_only_falls_back_to_the_usual_places_when_the_runs_data_is_gone(
    reference, shared_data_dir, tmp_path
):
    """A checkpoint whose recorded data folder no longer exists says so in one line and finds
    the data where a new run would ($HANDJAX_DATA_DIR here)."""
    moved = tmp_path / "moved.npz"
    with np.load(reference.out / "checkpoint.npz") as f:
        entries = {k: f[k] for k in f.files}
    meta = json.loads(str(entries.pop("__meta__"))) | {"data_root": str(tmp_path / "gone")}
    np.savez(moved, __meta__=np.array(json.dumps(meta)), **entries)
    proc = run_module(
        reference.module,
        "--eval-only",
        "--checkpoint",
        moved,
        "--offline",
        env={"HANDJAX_DATA_DIR": str(shared_data_dir)},
    )
    assert proc.returncode == 0, proc.stderr
    assert f"{tmp_path / 'gone' / 'mnist'} is gone" in proc.stdout
    assert f"looking in {shared_data_dir}" in proc.stdout
    accuracy = json.loads((reference.out / "metrics.json").read_text())["test_accuracy"]
    assert f"test accuracy: {accuracy:.4f}" in proc.stdout
