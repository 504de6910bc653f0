"""experiments.draw's server under clients that misbehave, served in this process so that the
test knows when every connection's thread has ended (server_close joins them) before it reads
the log: clients that go away at any point cost one short log line at most and never a
traceback, idle and stalled connections are dropped, and a bug of ours still logs its traceback
and answers 500. Everything talks to 127.0.0.1 only."""

from __future__ import annotations

import http.client
import json
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from data.framing import MNIST_FRAMING
from tests.draw_server import as_drawn, png

pytestmark = pytest.mark.slow
PIL = pytest.importorskip("PIL.Image")
WAIT = 60  # seconds a client waits for the server: a liveness bound, not a timing


@contextmanager
def serving(predictor, idle_timeout: float | None = None) -> Iterator[int]:
    """A DrawServer for ``predictor`` on a free port of 127.0.0.1 until the block ends; then
    stopped and closed, which waits for every connection's thread."""
    from experiments.draw_app import App
    from experiments.draw_http import DrawServer

    server = DrawServer("127.0.0.1", 0)
    server.app = App(predictor)
    if idle_timeout is not None:
        server.idle_timeout = idle_timeout
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(WAIT)


@pytest.fixture(scope="module")
def predictor(mnist_checkpoint):
    from experiments.predictor import Predictor

    return Predictor(mnist_checkpoint)


@pytest.fixture(scope="module")
def digit(shared_data_dir) -> tuple[bytes, int]:
    """A real MNIST test digit as the PNG the page would post, and its label."""
    from data import load_dataset

    ds = load_dataset("mnist", shared_data_dir, download=False)
    return png(as_drawn(ds.x_test[0, :, :, 0])), int(ds.y_test[0])


def post(port: int, body: bytes) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    try:
        conn.request("POST", "/api/predict", body=body)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def half_requests(image: bytes) -> list[bytes]:
    """What a client may have sent when it goes away: part of the request line, part of the
    headers, headers without the body's length, part of the body, a whole request."""
    head = f"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: {len(image)}\r\n\r\n"
    return [
        b"POST /api/pre",
        b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Le",
        b"POST /api/predict HTTP/1.1\r\nHost: x\r\n\r\n",
        head.encode() + image[:100],
        head.encode() + image,
    ]


def test_clients_that_go_away_cost_no_traceback_and_the_server_keeps_answering(
    predictor, digit, capfd
):
    image, label = digit
    sent = half_requests(image)
    clients = 150
    with serving(predictor) as port:
        for i in range(clients):
            s = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
            s.sendall(sent[i % len(sent)])
            if i % 2:  # reset (RST) rather than closed (FIN): the server's next read or write fails
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()  # never reads the answer
        status, answer = post(port, image)  # still answering
    assert (status, answer["class"]) == (200, label)
    log = capfd.readouterr().err
    assert "Traceback" not in log and "Exception" not in log, log[:3000]
    lines = log.splitlines()
    assert len(lines) <= clients, f"{len(lines)} lines for {clients} clients"
    assert all(len(line) <= 250 for line in lines), max(lines, key=len)


def test_idle_and_stalled_connections_are_dropped(predictor, digit, capfd):
    image, _ = digit
    head = f"POST /api/predict HTTP/1.1\r\nContent-Length: {len(image)}\r\n\r\n".encode()
    with serving(predictor, idle_timeout=1) as port:
        for start in (b"", head + image[:50]):  # silent from the start; silent mid-body
            with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
                s.sendall(start)
                assert s.recv(65536) == b""  # closed by the server, without an answer
        assert post(port, image)[0] == 200
    log = capfd.readouterr().err
    assert "Traceback" not in log, log
    assert "Request timed out" in log and "dropped: the client stalled" in log, log


class Broken:
    """A predictor with a bug: the server must answer 500 and log the traceback."""

    path = Path("broken.npz")
    meta = {"experiment": "cnn", "config": {"dataset": "mnist"}}
    class_names = [str(d) for d in range(10)]
    framing = MNIST_FRAMING

    def explain(self, images: np.ndarray, classes: np.ndarray | None = None):  # noqa: ANN201
        from experiments.predictor import Explanation

        nothing = np.zeros((len(images), 0))  # no classes at all: argmax fails
        return Explanation(nothing, np.zeros(len(images), int), images, images)


def test_a_bug_answers_500_and_logs_its_traceback(digit, capfd):
    with serving(Broken()) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
        conn.request("POST", "/api/predict", body=digit[0])
        response = conn.getresponse()
        assert response.status == 500
        assert "log has the traceback" in json.loads(response.read())["error"]
        conn.close()
    log = capfd.readouterr().err
    assert "Traceback" in log and "ValueError" in log and "POST /api/predict failed" in log, log
