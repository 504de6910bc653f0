"""experiments.draw's HTTP side, on the standard library's threading HTTP server: routes, JSON
errors, and a server that stays quiet and standing when clients misbehave.

    GET  /, /index.html, /draw.css, /draw.js, ...            the page (experiments/draw_page/)
    GET  /api/info                                          the checkpoint's description
    POST /api/predict[?explain=K]                           image bytes -> the answer (App)

Every error is JSON, {"error": "<what is wrong and what to do>"}: 4xx for a bad request, 500
(with the traceback in the log) for a bug of ours. The log has one short line per failed request
and none for the others. A client that goes away at any point (mid-headers, mid-body, before
reading the answer) costs one short line at most, never a traceback; a connection silent for
``idle_timeout`` seconds is dropped.
"""

from __future__ import annotations

import json
import socket
import sys
import time
import traceback
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from data import ImageError
from experiments.draw_app import MAX_BODY, App

DRAIN = 64 * 2**20  # an oversized body up to this size is read and dropped, so the client hears 413
IDLE_SECONDS = 30  # a client silent this long, between or inside requests, is dropped
SHORT = 120  # characters of a request line or error message in the log
GONE = (ConnectionError, TimeoutError)  # the client went away (reset, closed, broken pipe), stalled
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


def short(text: str) -> str:
    return text if len(text) <= SHORT else text[: SHORT - 3] + "..."


class Handler(BaseHTTPRequestHandler):
    """GET the page's files and /api/info, POST /api/predict; every error is JSON."""

    server: DrawServer
    protocol_version = "HTTP/1.1"
    server_version = "handjax-draw"
    failure = ""  # the error message of the response being sent, for the log

    def setup(self) -> None:
        self.timeout = self.server.idle_timeout  # StreamRequestHandler sets it on the socket
        super().setup()

    def do_GET(self) -> None:
        self.dispatch(self.get)

    def do_POST(self) -> None:
        self.dispatch(self.post)

    def get(self, path: str, query: str) -> None:
        app = self.server.app
        if path == "/api/info":
            self.send_json(HTTPStatus.OK, app.info)
        elif path in app.files:
            self.send_body(HTTPStatus.OK, *app.files[path])
        elif path == "/api/predict":
            raise HttpError(HTTPStatus.METHOD_NOT_ALLOWED, "POST an image to /api/predict")
        else:
            raise HttpError(HTTPStatus.NOT_FOUND, f"no such page: {path} (the page is at /)")

    def post(self, path: str, query: str) -> None:
        if path != "/api/predict":
            raise HttpError(HTTPStatus.NOT_FOUND, f"nothing to POST to at {path}: use /api/predict")
        explain = self.explained_class(query)
        size = self.body_size()
        body = self.rfile.read(size)
        if len(body) < size:
            raise HttpError(HTTPStatus.BAD_REQUEST, "the body ended before its Content-Length")
        try:
            answer = self.server.app.classify(body, explain)
        except ImageError as e:
            raise HttpError(HTTPStatus.BAD_REQUEST, str(e)) from None
        self.send_json(HTTPStatus.OK, answer)

    def explained_class(self, query: str) -> int | None:
        """?explain=K: the class whose map to send (default: the predicted one)."""
        asked = parse_qs(query).get("explain")
        if asked is None:
            return None
        k = len(self.server.app.predictor.class_names)
        if len(asked) == 1 and is_count(asked[0]) and int(asked[0]) < k:
            return int(asked[0])
        raise HttpError(
            HTTPStatus.BAD_REQUEST,
            f"explain={short(','.join(asked))!r} is not a class: use ?explain=K, K from 0 to "
            f"{k - 1}, or leave it out for the predicted class",
        )

    def body_size(self) -> int:
        """The body's length from Content-Length; 411, 400 or 413 when it is missing or wrong."""
        text = self.headers.get("Content-Length")
        if text is None:
            raise HttpError(HTTPStatus.LENGTH_REQUIRED, "send the image with a Content-Length")
        if not is_count(text.strip()):
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

    def dispatch(self, route: Callable[[str, str], None]) -> None:
        """Run ``route``; a bad request gets its 4xx, a bug in this code a logged 500."""
        try:
            url = urlsplit(self.path)
            route(url.path, url.query)
        except HttpError as e:
            self.failure = str(e)
            self.close_connection = True  # the body may be unread: start afresh
            if e.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
                self.drain()
            self.send_json(e.status, {"error": str(e)})
        except GONE as e:  # the client went away or stalled while we read: nobody to answer
            self.close_connection = True
            self.log_message('"%s" dropped: the client %s', self.logged_request(), gone(e))
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
        """Send the answer; then log it if it is a failure, or if it could not be delivered
        (one line either way)."""
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in HEADERS.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        try:
            self.end_headers()
            self.wfile.write(body)
        except GONE as e:
            self.close_connection = True
            request = self.logged_request()
            self.log_message('"%s" %s not delivered: the client %s', request, status, gone(e))
            return
        if status >= 400:
            self.log_message('"%s" %s %s', self.logged_request(), status, short(self.failure))

    def logged_request(self) -> str:
        return short(getattr(self, "requestline", "") or "-")

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Nothing: send_body logs a failure once it knows whether it was delivered."""


def gone(error: BaseException) -> str:
    """How the client went away, in a few words."""
    return (
        f"{'stalled' if isinstance(error, TimeoutError) else 'went away'} ({type(error).__name__})"
    )


class DrawServer(ThreadingHTTPServer):
    """One thread per connection (ThreadingHTTPServer), IPv6 when the host is an IPv6 address.
    Its ``app`` is set once the model is ready, before it serves."""

    app: App
    idle_timeout: float = IDLE_SECONDS  # seconds a connection may stay silent

    def __init__(self, host: str, port: int) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, port), Handler)

    def handle_error(self, request: socket.socket, client_address: tuple) -> None:
        """What escaped a connection's handler: a client that went away costs one line (here,
        where the standard library would print a traceback); anything else is a bug of ours
        and keeps its traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, GONE):
            when = time.strftime("%d/%b/%Y %H:%M:%S")  # as the handler's own log lines
            sys.stderr.write(
                f"{client_address[0]} - - [{when}] dropped: the client {gone(error)}\n"
            )
        else:
            super().handle_error(request, client_address)


def is_count(text: str) -> bool:
    """Whether ``text`` is a plain decimal count that int() reads: ASCII digits only (str.isdigit
    also takes "²" and other digits int() refuses), and short enough for int()'s digit limit."""
    return text.isascii() and text.isdigit() and len(text) <= 18
