"""Draw a digit in the browser and watch the network classify it, and see why, while you draw.

    python -m experiments.draw [--checkpoint PATH] [--port N] [--host H]

Serves a page (experiments/draw_page/: plain HTML, CSS and JavaScript that need nothing from the
network) and a JSON API (experiments/draw_http.py), on the standard library's threading HTTP
server:

    GET  /api/info                  {"checkpoint", "experiment", "dataset", "class_names",
                                     "max_bytes"}
    POST /api/predict[?explain=K]   the bytes of one image file (PNG, JPEG, ...) as the body ->
                                    {"class", "name", "probabilities", "input", "saliency"};
                                    bad input: 4xx {"error"}

A posted image goes through exactly what ``experiments.predict`` does with a file (decode_gray,
to_mnist, one Predictor), loaded and compiled once, at start-up; ``saliency`` is the map of the
predicted class, or of class K, from the network's own backward pass (nn/saliency.py). Without
--checkpoint the checkpoint of the run finished last under runs/ is used, whichever experiment
it was (it says which). It listens on 127.0.0.1 unless --host says otherwise.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from data.images import pillow
from experiments.cli import CliParser
from experiments.draw_app import App
from experiments.draw_http import DrawServer
from experiments.outcome import UsageError, guarded
from experiments.predictor import Predictor, newest_checkpoint
from experiments.rundir import CHECKPOINT


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
        predictor.explain(np.zeros((1, 28, 28), np.float32))  # compile it for one image, now
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
        help=f"a run's {CHECKPOINT} (default: that of the run finished last under runs/)",
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
