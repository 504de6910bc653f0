"""Data parallelism: on several forced CPU devices (in subprocesses, so that the device count
does not leak into other tests) a step equals the single-device step, a short run reaches the
same accuracy, and two processes on 127.0.0.1 train together to identical parameters."""

import json
import re
import socket
import subprocess
import sys

import pytest

from tests.cli import ROOT, command_env, run_module

pytestmark = pytest.mark.slow


def test_data_parallel_steps_equal_the_single_device_steps():
    """Tolerance 1e-6 on every parameter (and BatchNorm statistic) after three Adam steps
    (float32 sums in another order). The plain model: batches of 30 rows on 2, 3 and 4 devices,
    so 3 and 4 pad with weight-0 rows. The BatchNorm model: batches of 24 rows, whose statistics
    are synchronised over the devices."""
    proc = subprocess.run(
        [sys.executable, "-m", "tests.dp_check", "4"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=command_env(),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(result["plain"]) == {"2", "3", "4"} and set(result["batchnorm"]) == {"2", "3", "4"}
    for name, batch in (("plain", 30.0), ("batchnorm", 24.0)):
        for n, r in result[name].items():
            assert r["max_diff"] < 1e-6, (name, n, r)
            assert r["loss_diff"] < 1e-5 and r["count"] == batch, (name, n, r)
            assert r["eval_diff"] < 1e-5, (name, n, r)


def test_a_short_run_on_four_devices_reaches_the_single_device_accuracy(shared_data_dir, tmp_path):
    accuracy = {}
    for devices in (1, 4):
        out = tmp_path / f"d{devices}"
        proc = run_module(
            "experiments.cnn",
            "--data-dir",
            shared_data_dir,
            "--subset",
            "6000",
            "--epochs",
            "1",
            "--offline",
            "--out",
            out,
            env={"JAX_NUM_CPU_DEVICES": str(devices)},
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["devices"] == devices
        accuracy[devices] = metrics["test_accuracy"]
    assert accuracy[1] > 0.9
    assert abs(accuracy[4] - accuracy[1]) < 0.02  # only the dropout masks differ


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_train_together_to_identical_parameters(shared_data_dir, tmp_path):
    out, port = tmp_path / "run", free_port()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "experiments.cnn",
                "--data-dir",
                str(shared_data_dir),
                "--subset",
                "3000",
                "--epochs",
                "2",
                "--offline",
                "--out",
                str(out),
                "--coordinator",
                f"127.0.0.1:{port}",
                "--num-processes",
                "2",
                "--process-id",
                str(i),
            ],
            cwd=ROOT,
            env=command_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    try:
        outputs = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            p.kill()
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err[-3000:]
    prints = [re.findall(r"process (\d)/2: parameters ([0-9a-f]{16})", err) for _, err in outputs]
    assert [p[0][0] for p in prints] == ["0", "1"]
    assert prints[0][0][1] == prints[1][0][1]  # the same parameters, bit for bit
    assert "Epoch 2/2" in outputs[0][0] and "Epoch" not in outputs[1][0]  # only process 0 talks
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["processes"] == 2 and metrics["devices"] == 2 and metrics["test_accuracy"] > 0.8
