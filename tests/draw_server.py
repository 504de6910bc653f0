"""Starting ``python -m experiments.draw`` in a subprocess, as a user would, and talking to it;
shared by tests/test_draw_api.py and tests/test_draw_browser.py."""

from __future__ import annotations

import http.client
import io
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.cli import ROOT, command_env

START_LIMIT = 300  # seconds to wait for the address line before giving up (a hung start)


@dataclass
class Server:
    url: str  # http://127.0.0.1:PORT
    port: int
    proc: subprocess.Popen
    stdout: Path  # what it printed
    stderr: Path  # its log


@contextmanager
def draw_server(folder: Path, *args: str, cwd: Path = ROOT) -> Iterator[Server]:
    """``experiments.draw --port 0 ARGS`` until the block ends, then stopped with Ctrl-C
    (SIGINT). Its output goes to files in ``folder``: a pipe nobody reads could fill up."""
    out, err = folder / "draw.stdout", folder / "draw.stderr"
    with out.open("w") as o, err.open("w") as e:
        proc = subprocess.Popen(
            [sys.executable, "-m", "experiments.draw", "--port", "0", *map(str, args)],
            cwd=cwd,
            stdout=o,
            stderr=e,
            stdin=subprocess.DEVNULL,
            env=command_env(),
        )
    try:
        deadline = time.monotonic() + START_LIMIT
        while not (found := re.search(r"http://[\w.:\[\]]+:(\d+)/", out.read_text())):
            assert proc.poll() is None, f"the server exited: {err.read_text()[-2000:]}"
            assert time.monotonic() < deadline, f"no address after {START_LIMIT} s"
            time.sleep(0.1)
        port = int(found.group(1))
        yield Server(f"http://127.0.0.1:{port}", port, proc, out, err)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def request(
    server: Server, method: str, path: str, body: bytes | None = None, headers: dict | None = None
) -> tuple[int, dict, dict]:
    """(status, JSON body, headers) of one request on a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        kind = response.getheader("Content-Type", "")
        answer = json.loads(data) if kind.startswith("application/json") else {"raw": data}
        return response.status, answer, dict(response.getheaders())
    finally:
        conn.close()


def predict(server: Server, image: bytes) -> tuple[int, dict]:
    status, answer, _ = request(
        server, "POST", "/api/predict", image, {"Content-Type": "image/png"}
    )
    return status, answer


def png(gray: np.ndarray) -> bytes:
    """(H, W) in [0, 1] -> PNG bytes."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.uint8(np.round(255 * gray))).save(buf, "PNG")
    return buf.getvalue()


def as_drawn(digit: np.ndarray, size: int = 280) -> np.ndarray:
    """An MNIST digit (28, 28), light on black, as dark ink on a white canvas of ``size``."""
    from PIL import Image

    big = Image.fromarray(np.uint8(255 * digit)).resize((size, size), Image.Resampling.BILINEAR)
    return 1.0 - np.asarray(big, np.float32) / 255.0
