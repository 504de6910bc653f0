"""What experiments.draw serves, apart from HTTP (experiments/draw_http.py): the page's files,
read once, and the answer to a posted image, from one Predictor (experiments/predictor.py).

The answer to an image (the JSON of POST /api/predict): the predicted class's index and name
("class", "name"), one probability per class ("probabilities"), and what the network saw
("input": 28 rows of 28 gray levels, 0-255).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from data.framing import to_mnist
from data.images import decode_gray
from experiments.predictor import Predictor

PAGE_DIR = Path(__file__).resolve().parent / "draw_page"
PAGE = {  # URL path -> (file in PAGE_DIR, content type): nothing else is ever read from disk
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/draw.css": ("draw.css", "text/css; charset=utf-8"),
    "/draw.js": ("draw.js", "text/javascript; charset=utf-8"),
}
MAX_BODY = 10 * 2**20  # bytes: a larger posted image gets 413
DECODERS = 2  # images decoded at once: a large photo takes a few hundred MB while it is prepared


class App:
    """The page's files, read once, and one Predictor."""

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
        """Image bytes -> the JSON answer; data.ImageError for what is not an image or is
        blank."""
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
