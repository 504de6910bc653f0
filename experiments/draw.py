"""Draw a digit in the browser and watch the network classify it while you draw.

    python -m experiments.draw [--checkpoint PATH] [--port N] [--host H]

Serves a page (experiments/draw_page/: plain HTML, CSS and JavaScript that need nothing from the
network) and a JSON API, on the standard library's threading HTTP server:

    GET  /api/info     {"checkpoint", "experiment", "dataset", "class_names", "max_bytes"}
    POST /api/predict  the bytes of one image file (PNG, JPEG, ...) as the body ->
                       {"class", "name", "probabilities", "input"}; bad input: 4xx {"error"}

A posted image goes through exactly what ``experiments.predict`` does with a file (decode_gray,
to_mnist, one Predictor), loaded and compiled once, at start-up. Without --checkpoint the newest
runs/cnn-*/checkpoint.npz is used. It listens on 127.0.0.1 unless --host says otherwise.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import json
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from experiments.cli import CliParser
from experiments.common import CHECKPOINT
from experiments.outcome import UsageError, guarded
from experiments.predict import Predictor, decode_gray, newest_checkpoint, pillow, to_mnist

PAGE_DIR = Path(__file__).resolve().parent / "draw_page"
PAGE = {  # URL path -> (file in PAGE_DIR, content type): nothing else is ever read from disk
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/draw.css": ("draw.css", "text/css; charset=utf-8"),
    "/draw.js": ("draw.js", "text/javascript; charset=utf-8"),
}
MAX_BODY = 10 * 2**20  # bytes: a larger posted image gets 413
DRAIN = 64 * 2**20  # an oversized body up to this size is read and dropped, so the client hears 413
DECODERS = 2  # images decoded at once: a large photo takes a few hundred MB while it is prepared
HEADERS = {  # sent with every response
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:",
    "Referrer-Policy": "no-referrer",
}


class HttpError(Exception):
    """A bad request: answered with ``status`` and {"error": message}."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class App:
    """What the server serves: the page's files, read once, and one Predictor."""

    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor
        self.files = {
            url: ((PAGE_DIR / name).read_bytes(), kind) for url, (name, kind) in PAGE.items()
        }
        self.decoding = threading.BoundedSemaphore(DECODERS)
        meta = predictor.meta
        self.info = {
            "checkpoint": str(predictor.path),
            "experiment": meta["experiment"],
            "dataset": meta.get("config", {}).get("dataset", ""),
            "class_names": predictor.class_names,
            "max_bytes": MAX_BODY,
        }

    def classify(self, body: bytes) -> dict:
        """Image bytes -> the JSON answer; UsageError for what is not an image or is blank."""
        name = "the posted file"
        with self.decoding:
            x = to_mnist(decode_gray(body, name), name, self.predictor.framing)  # (28, 28)
        probs = self.predictor(x[None])[0]  # (K,)
        k = int(probs.argmax())
        return {
            "class": k,
            "name": self.predictor.class_names[k],
            "probabilities": [round(float(p), 6) for p in probs],
            "input": np.round(x * 255).astype(int).tolist(),  # 28 rows of 28 gray levels
        }


class Handler(BaseHTTPRequestHandler):
    """GET the page's files and /api/info, POST /api/predict; every error is JSON."""

    server: DrawServer
    protocol_version = "HTTP/1.1"
    server_version = "handjax-draw"
    timeout = 30  # seconds a client may stall mid-request before its connection is dropped
    failure = ""  # the error message of the response being sent, for the log

    def do_GET(self) -> None:
        self.dispatch(self.get)

    def do_POST(self) -> None:
        self.dispatch(self.post)

    def get(self, path: str) -> None:
        app = self.server.app
        if path == "/api/info":
            self.send_json(HTTPStatus.OK, app.info)
        elif path in app.files:
            self.send_body(HTTPStatus.OK, *app.files[path])
        elif path == "/api/predict":
            raise HttpError(HTTPStatus.METHOD_NOT_ALLOWED, "POST an image to /api/predict")
        else:
            raise HttpError(HTTPStatus.NOT_FOUND, f"no such page: {path} (the page is at /)")

    def post(self, path: str) -> None:
        if path != "/api/predict":
            raise HttpError(HTTPStatus.NOT_FOUND, f"nothing to POST to at {path}: use /api/predict")
        size = self.body_size()
        body = self.rfile.read(size)
        if len(body) < size:
            raise HttpError(HTTPStatus.BAD_REQUEST, "the body ended before its Content-Length")
        try:
            answer = self.server.app.classify(body)
        except UsageError as e:
            raise HttpError(HTTPStatus.BAD_REQUEST, str(e)) from None
        self.send_json(HTTPStatus.OK, answer)

    def body_size(self) -> int:
        """The body's length from Content-Length; 411, 400 or 413 when it is missing or wrong."""
        text = self.headers.get("Content-Length")
        if text is None:
            raise HttpError(HTTPStatus.LENGTH_REQUIRED, "send the image with a Content-Length")
        if not text.strip().isdigit():
            raise HttpError(HTTPStatus.BAD_REQUEST, f"Content-Length {text!r} is not a number")
        size = int(text)
        if size > MAX_BODY:
            raise HttpError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"the body is {size:,} bytes, more than the {MAX_BODY:,} accepted: "
                "send a smaller image",
            )
        if size == 0:
            raise HttpError(HTTPStatus.BAD_REQUEST, "the body is empty: send the image's bytes")
        return size

    def handle_expect_100(self) -> bool:
        """A client that asks before sending (curl does for large bodies) hears 413 at once."""
        try:
            self.body_size()
        except HttpError as e:
            if e.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
                self.failure = str(e)
                self.close_connection = True
                self.send_json(e.status, {"error": self.failure})
                return False
        return super().handle_expect_100()

    def dispatch(self, route: Callable[[str], None]) -> None:
        """Run ``route``; a bad request gets its 4xx, a bug in this code a logged 500."""
        try:
            route(urlsplit(self.path).path)
        except HttpError as e:
            self.failure = str(e)
            self.close_connection = True  # the body may be unread: start afresh
            if e.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
                self.drain()
            self.send_json(e.status, {"error": str(e)})
        except (ConnectionError, TimeoutError):
            self.close_connection = True  # the client went away or stalled: nobody to answer
        except Exception:
            self.log_error("%s %s failed:\n%s", self.command, self.path, traceback.format_exc())
            self.failure = "internal error (traceback above)"
            self.close_connection = True
            self.send_json(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                {"error": "internal error in the server: its log has the traceback"},
            )

    def drain(self) -> None:
        """Read and drop an oversized body (up to DRAIN), so the client sees our answer rather
        than a connection reset."""
        left = int(self.headers.get("Content-Length", "0").strip() or 0)
        if left > DRAIN:
            return
        while left > 0:
            chunk = self.rfile.read(min(left, 2**16))
            if not chunk:
                return
            left -= len(chunk)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The standard library's own errors (bad request line, unknown method), as JSON."""
        self.failure = message or explain or HTTPStatus(code).phrase
        self.close_connection = True
        self.send_json(code, {"error": self.failure})

    def send_json(self, status: int, payload: dict) -> None:
        self.send_body(status, json.dumps(payload).encode(), "application/json")

    def send_body(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in HEADERS.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log failures only (the page posts several times a second while you draw), with the
        error they were answered with."""
        if isinstance(code, int) and code >= 400:
            self.log_message('"%s" %s %s', self.requestline, code, self.failure)


class DrawServer(ThreadingHTTPServer):
    """One thread per connection (ThreadingHTTPServer), IPv6 when the host is an IPv6 address.
    Its ``app`` is set once the model is ready, before it serves."""

    app: App

    def __init__(self, host: str, port: int) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, port), Handler)


def is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: reachable from wherever it resolves


def listen(host: str, port: int) -> DrawServer:
    try:
        return DrawServer(host, port)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise UsageError(
                f"port {port} is in use: choose another with --port N (0 picks a free one)"
            ) from None
        raise UsageError(
            f"cannot listen on {host} port {port} ({e.strerror or e}): check --host and --port"
        ) from None


def stop_on_signals() -> None:
    """Ctrl-C (SIGINT) and ``kill`` (SIGTERM) stop the server. SIGINT's handler is installed
    here too: a process started in the background by a shell without job control inherits
    SIGINT ignored, and Python then leaves it ignored, so Ctrl-C's signal would do nothing."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def serve(checkpoint: str | None, host: str, port: int) -> None:
    pillow()  # a missing Pillow fails now, not at the first drawing
    path = Path(checkpoint) if checkpoint else newest_checkpoint()
    with listen(host, port) as server:  # a port in use fails before the model is loaded
        predictor = Predictor(path)
        predictor(np.zeros((1, 28, 28), np.float32))  # compile the forward for one image, now
        server.app = App(predictor)
        info = server.app.info
        shown = f"[{host}]" if ":" in host else host
        print(
            f"Checkpoint: {info['checkpoint']} ({info['experiment']}, {info['dataset']}, "
            f"{len(info['class_names'])} classes)"
        )
        print(f"Serving the page at http://{shown}:{server.server_address[1]}/ (Ctrl-C stops it)")
        if not is_loopback(host):
            print(f"Listening on {host}: anyone who can reach this machine can use the page")
        sys.stdout.flush()
        stop_on_signals()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("Stopped.")


def port_number(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, got {text!r}")
    return int(text)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = CliParser(
        prog="python -m experiments.draw",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--checkpoint",
        metavar="PATH",
        help=f"a run's {CHECKPOINT} (default: the newest runs/cnn-*/{CHECKPOINT})",
    )
    p.add_argument(
        "--port", type=port_number, default=8000, help="port to listen on (default: 8000; 0: any)"
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0: everyone)",
    )
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return guarded(lambda: serve(args.checkpoint, args.host, args.port))


if __name__ == "__main__":
    sys.exit(main())
