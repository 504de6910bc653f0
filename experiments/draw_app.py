"""What experiments.draw serves, apart from HTTP (experiments/draw_http.py): the page's files,
read once, and the answer to a posted image, from one Predictor (experiments/predictor.py).

The answer to an image (the JSON of POST /api/predict):

    class, name      the predicted class's index and name
    probabilities    K numbers, one per class
    input            28 rows of 28 gray levels (0-255): what the network saw
    saliency         the map of one class (the predicted one unless another is asked for):
                     {class, name, score: "log_prob", gradient, gradient_x_input}, each map 28
                     rows of 28 numbers (4 significant digits): d log p(class) / d pixel, pixels
                     in [0, 1], and that times the pixel (nn/saliency.py)
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
    "/answer.css": ("answer.css", "text/css; charset=utf-8"),
    "/draw.js": ("draw.js", "text/javascript; charset=utf-8"),
    "/answer.js": ("answer.js", "text/javascript; charset=utf-8"),
}
MAX_BODY = 10 * 2**20  # bytes: a larger posted image gets 413
DECODERS = 2  # images decoded at once: a large photo takes a few hundred MB while it is prepared


def rounded(values: np.ndarray) -> list:
    """A map as nested lists of floats with 4 significant digits (short JSON, enough to draw)."""
    return [[float(f"{v:.4g}") for v in row] for row in values.tolist()]


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

    def classify(self, body: bytes, explain: int | None = None) -> dict:
        """Image bytes -> the JSON answer, with the map of class ``explain`` (default: the
        predicted class); data.ImageError for what is not an image or is blank."""
        name = "the posted file"
        with self.decoding:
            x = to_mnist(decode_gray(body, name), name, self.predictor.framing)  # (28, 28)
        asked = None if explain is None else np.array([explain])
        seen = self.predictor.explain(x[None], asked)  # one image: (1, K), (1,), (1, 28, 28)
        k, c = int(seen.probs[0].argmax()), int(seen.classes[0])
        names = self.predictor.class_names
        return {
            "class": k,
            "name": names[k],
            "probabilities": [round(float(p), 6) for p in seen.probs[0]],
            "input": np.round(x * 255).astype(int).tolist(),  # 28 rows of 28 gray levels
            "saliency": {
                "class": c,
                "name": names[c],
                "score": "log_prob",
                "gradient": rounded(seen.gradient[0]),
                "gradient_x_input": rounded(seen.strokes[0]),
            },
        }
