"""Checkpoints, resume and determinism: a run killed with SIGKILL in the middle of an epoch and
resumed ends bit-identical to an uninterrupted run of the same seed, and two runs of the same
seed agree bit for bit (CPU)."""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from nn.checkpoint import read_meta
from tests.cli import ROOT, command_env, run_module

pytestmark = pytest.mark.slow

ARGS = ["--subset", "12000", "--epochs", "3", "--offline"]  # 375 steps per epoch


def arrays(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files if k != "__meta__"}


def numbers(metrics):
    """metrics.json without the wall-clock fields (seconds differ between any two runs)."""
    drop = {"train_seconds", "eval_seconds", "config"}
    out = {k: v for k, v in metrics.items() if k not in drop}
    out["history"] = [{k: v for k, v in row.items() if k != "seconds"} for row in out["history"]]
    return out


@pytest.fixture(scope="module")
def reference(shared_data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    proc = run_module("experiments.cnn", "--data-dir", shared_data_dir, *ARGS, "--out", out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


def test_same_seed_gives_bit_identical_parameters_and_metrics(reference, shared_data_dir, tmp_path):
    out = tmp_path / "again"
    proc = run_module("experiments.cnn", "--data-dir", shared_data_dir, *ARGS, "--out", out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    a, b = arrays(reference / "checkpoint.npz"), arrays(out / "checkpoint.npz")
    assert a.keys() == b.keys() and any(k.startswith(".opt_state") for k in a)
    for k in a:
        assert np.array_equal(a[k], b[k]), k
    ma = json.loads((reference / "metrics.json").read_text())
    mb = json.loads((out / "metrics.json").read_text())
    assert numbers(ma) == numbers(mb)


def test_killed_mid_epoch_then_resumed_equals_uninterrupted(reference, shared_data_dir, tmp_path):
    out = tmp_path / "killed"
    cmd = [
        sys.executable,
        "-m",
        "experiments.cnn",
        "--data-dir",
        str(shared_data_dir),
        *ARGS,
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

    resumed = run_module(
        "experiments.cnn", "--resume", out, "--data-dir", shared_data_dir, "--offline"
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Resuming" in resumed.stdout and "Epoch 2/3" in resumed.stdout
    assert "Epoch 1/3" not in resumed.stdout
    a, b = arrays(reference / "checkpoint.npz"), arrays(out / "checkpoint.npz")
    for k in a:
        assert np.array_equal(a[k], b[k]), k
    ma = json.loads((reference / "metrics.json").read_text())
    mb = json.loads((out / "metrics.json").read_text())
    assert numbers(ma) == numbers(mb)


def test_eval_only_reports_the_checkpoints_accuracy(reference, shared_data_dir):
    proc = run_module(
        "experiments.cnn",
        "--eval-only",
        "--checkpoint",
        reference / "checkpoint.npz",
        "--data-dir",
        shared_data_dir,
        "--offline",
    )
    assert proc.returncode == 0, proc.stderr
    accuracy = json.loads((reference / "metrics.json").read_text())["test_accuracy"]
    assert f"test accuracy: {accuracy:.4f}" in proc.stdout
    assert "Epoch" not in proc.stdout and "precision specificity" in proc.stdout
