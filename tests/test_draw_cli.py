"""experiments.draw as a command: without a checkpoint, on a port in use or a bad port, on
another host, stopped with Ctrl-C, and with a Fashion-MNIST checkpoint that reads photos of
clothes. (Its API: tests/test_draw_api.py.)"""

from __future__ import annotations

import signal
import socket

import numpy as np
import pytest

from tests.cli import assert_one_line_error, run_module
from tests.draw_server import as_drawn, draw_server, png, predict, request

pytestmark = pytest.mark.slow
PIL = pytest.importorskip("PIL.Image")


@pytest.fixture(scope="module")
def mnist(shared_data_dir):
    from data import load_dataset

    return load_dataset("mnist", shared_data_dir, download=False)


def test_without_a_checkpoint_it_says_how_to_get_one(tmp_path):
    proc = run_module("experiments.draw", "--port", "0", cwd=tmp_path)  # no runs/ here
    assert_one_line_error(proc, "no checkpoint found", "python -m experiments.cnn")


def test_a_port_in_use_is_a_one_line_error(mnist_checkpoint):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = run_module("experiments.draw", "--checkpoint", mnist_checkpoint, "--port", port)
    assert_one_line_error(proc, f"port {port} is in use", "--port")


@pytest.mark.parametrize("args", [["--port", "70000"], ["--port", "http"]])
def test_a_bad_port_is_a_usage_error(args):
    proc = run_module("experiments.draw", *args)
    assert proc.returncode == 2 and "expected a port from 0 to 65535" in proc.stderr


def test_another_host_is_announced_and_ctrl_c_stops_the_server_cleanly(
    mnist_checkpoint, mnist, tmp_path
):
    args = ("--checkpoint", mnist_checkpoint, "--host", "0.0.0.0")
    with draw_server(tmp_path, *args) as server:
        assert "anyone who can reach this machine" in server.stdout.read_text()
        status, answer = predict(server, png(as_drawn(mnist.x_test[1, :, :, 0])))
        assert (status, answer["class"]) == (200, mnist.y_test[1])
        server.proc.send_signal(signal.SIGINT)
        assert server.proc.wait(timeout=60) == 0
    assert server.stdout.read_text().rstrip().endswith("Stopped.")
    assert "Traceback" not in server.stderr.read_text()


@pytest.fixture(scope="module")
def fashion_checkpoint(shared_data_dir, tmp_path_factory):
    """Softmax regression on 10,000 Fashion-MNIST images (about 83% test accuracy): seconds."""
    out = tmp_path_factory.mktemp("fashion") / "run"
    proc = run_module(
        "experiments.softmax",
        *("--dataset", "fashion-mnist", "--data-dir", shared_data_dir, "--subset", "10000"),
        *("--offline", "--out", out),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out / "checkpoint.npz"


def test_a_fashion_mnist_checkpoint_names_its_classes_and_reads_photos_of_clothes(
    fashion_checkpoint, shared_data_dir, tmp_path
):
    from data import load_dataset

    ds = load_dataset("fashion-mnist", shared_data_dir, download=False)
    photos = []
    for i in range(40):  # each picture dark on white, off-centre on a larger page, as a photo
        page = PIL.new("L", (500, 400), 255)
        page.paste(PIL.fromarray(np.uint8(255 * as_drawn(ds.x_test[i, :, :, 0]))), (40 + 4 * i, 60))
        photos.append(png(np.asarray(page, np.float32) / 255))
    with draw_server(tmp_path, "--checkpoint", fashion_checkpoint) as server:
        status, info, _ = request(server, "GET", "/api/info")
        answers = [predict(server, photo)[1] for photo in photos]
    assert status == 200 and info["dataset"] == "fashion-mnist"
    assert info["class_names"] == list(ds.class_names) and info["experiment"] == "softmax"
    assert all(a["name"] == ds.class_names[a["class"]] for a in answers)
    accuracy = np.mean([a["class"] for a in answers] == ds.y_test[:40])
    assert accuracy >= 0.7, accuracy  # 0.45 when framed like MNIST digits, not like Fashion-MNIST
