"""Predict the class of your own images (PNG, JPEG, ...) with a trained checkpoint.

    python -m experiments.predict IMAGE [IMAGE ...] [--checkpoint PATH] [--show]

Each image is turned into an MNIST-like input the way MNIST itself was made: grayscale, measured
from the paper's level at each place (an unevenly lit page is not one grey), inverted when the
ink is darker than the paper (MNIST digits are light on black), cropped to the digit's bounding
box, scaled to fit 20x20 keeping its aspect ratio, and placed in a 28x28 field so that its centre
of mass sits at the centre. For a Fashion-MNIST checkpoint, as Fashion-MNIST was made: trimmed,
the longer side scaled to 28, the bounding box centred. Without --checkpoint the newest
runs/cnn-*/checkpoint.npz is used.
``--show`` saves IMAGE's preprocessed 28x28 beside the original as <name>-preprocessed.png.
Needs Pillow: pip install -e '.[image]'. ``experiments.draw`` serves a drawing page on the same
code path: ``decode_gray``, ``to_mnist`` and a ``Predictor``.
"""

from __future__ import annotations

import argparse
import io
import struct
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import jax
import numpy as np

from experiments.cli import CliParser
from experiments.common import CHECKPOINT
from experiments.outcome import UsageError, guarded
from experiments.registry import EXPERIMENTS
from nn.checkpoint import load_weights, read_meta

INK = 0.2  # a pixel is part of the digit above this fraction of the image's contrast
NOISE = 0.05  # below this fraction of the contrast a pixel is background
MAX_PIXELS = 25_000_000  # larger pictures are refused before decoding (a 12-megapixel photo fits)


class Framing(NamedTuple):
    """How a dataset placed its pictures in the 28x28 field."""

    side: int  # pixels of the picture's longer side
    by_mass: bool  # centre its centre of mass (else its bounding box)
    trim: float  # crop to the pixels above this fraction of the contrast


FRAMING = {
    "mnist": Framing(20, True, INK),  # LeCun et al.: fit 20x20, centre of mass at the centre
    "fashion-mnist": Framing(28, False, NOISE),  # Xiao et al.: trim, longer edge 28, centred
}


def framing_of(meta: dict) -> Framing:
    """The framing of the dataset a checkpoint was trained on (MNIST's when unknown)."""
    return FRAMING.get(meta.get("config", {}).get("dataset", "mnist"), FRAMING["mnist"])


def pillow():  # noqa: ANN201  (Pillow is optional)
    try:
        from PIL import Image, ImageOps, UnidentifiedImageError
    except ImportError:
        raise UsageError("predicting images needs Pillow: pip install -e '.[image]'") from None
    return Image, ImageOps, UnidentifiedImageError


def read_gray(path: Path) -> np.ndarray:
    """The image file as float32 (H, W) in [0, 1]; one clear error for anything unreadable."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except OSError as e:
        raise UsageError(f"{path}: cannot read it ({e.strerror or type(e).__name__})") from None
    return decode_gray(data, str(path))


def decode_gray(data: bytes, name: str) -> np.ndarray:
    """Encoded image bytes (PNG, JPEG, ...) -> float32 (H, W) in [0, 1], turned upright as its
    EXIF orientation says. Transparent pixels become background: white behind dark ink, black
    behind light ink. Anything Pillow cannot read, or larger than MAX_PIXELS, is a UsageError."""
    image_mod, image_ops, unidentified = pillow()
    unreadable = (  # what Pillow raises on files it cannot decode
        unidentified,
        image_mod.DecompressionBombError,
        OSError,
        ValueError,
        SyntaxError,
        EOFError,
        struct.error,
    )
    try:
        with image_mod.open(io.BytesIO(data)) as im:
            if im.width * im.height > MAX_PIXELS:
                raise UsageError(
                    f"{name} is {im.width} x {im.height} pixels, more than the "
                    f"{MAX_PIXELS:,} read here: scale it down"
                )
            im = image_ops.exif_transpose(im)
            la = np.asarray(im.convert("LA"))  # (H, W, 2) uint8: gray level and opacity
    except unreadable as e:
        raise UsageError(
            f"{name} is not a readable image ({type(e).__name__}); "
            "expected a PNG, JPEG or other image file"
        ) from None
    gray = la[..., 0].astype(np.float32) / 255.0
    if la[..., 1].min() == 255:
        return gray
    alpha = la[..., 1].astype(np.float32) / 255.0
    ink = float((gray * alpha).sum() / max(float(alpha.sum()), 1.0))  # mean of what is opaque
    behind = np.float32(1.0 if ink < 0.5 else 0.0)
    return alpha * gray + (1.0 - alpha) * behind


def paper(gray: np.ndarray) -> np.ndarray:
    """The picture's background (paper, or a dark screen) as a smooth surface: (H, W) float32,
    the quadratic in x and y closest to the border pixels, those far from it left out.

    A photograph is seldom evenly lit: a lamp to one side, a shadow or the lens's vignetting
    leave one side or the corners of the page darker, often by more than a fifth (INK) of the
    ink's contrast. Measured from one background level, that darker paper counts as ink and is
    cropped with the digit, which ends up small in a corner of the 28x28. Light that varies slowly
    across the page is, to second order, a quadratic in x and y, and a quadratic is fixed by its
    values along the border of a rectangle, where the paper is assumed to be anyway (the first
    term the border cannot see, x(1-x)y(1-y), is of degree 4). A sharp shadow edge across the
    page is not such a surface and is not corrected. On an evenly lit page the fit is the
    border's level, as a single median was before.
    """
    h, w = gray.shape

    def terms(y: np.ndarray, x: np.ndarray) -> list[np.ndarray]:  # 1, x, y, x^2, xy, y^2
        return [np.ones_like(x), x, y, x * x, x * y, y * y]

    ys, xs = np.linspace(0, 1, h), np.linspace(0, 1, w)  # the picture spans [0, 1] both ways
    by = np.concatenate([np.zeros(w), np.ones(w), ys, ys])  # top, bottom, left, right edges
    bx = np.concatenate([xs, xs, np.zeros(h), np.ones(h)])
    level = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]]).astype(np.float64)
    basis = np.stack(terms(by, bx), axis=1)  # (2H + 2W, 6)
    fit = np.full_like(level, np.median(level))  # first guess: one level, the border's median
    for _ in range(3):  # refit to the pixels near the last fit; ink touching the edge is not
        off = np.abs(level - fit)
        near = off <= 4 * np.median(off) + 0.002  # ~3 sigma of noise; + half an 8-bit grey level
        coef = np.linalg.lstsq(basis[near], level[near], rcond=None)[0]
        fit = basis @ coef
    y, x = ys.astype(np.float32)[:, None], xs.astype(np.float32)[None, :]  # (H, 1), (1, W)
    return sum(np.float32(c) * t for c, t in zip(coef, terms(y, x), strict=True))  # (H, W)


def ink_of(gray: np.ndarray, name: str = "image") -> np.ndarray:
    """(H, W) grayscale in [0, 1] -> (H, W) float32 in [0, 1]: how far each pixel is from the
    paper (``paper``) towards the ink, as a fraction of the largest such step; 0 below NOISE.
    The ink is on the side that differs most from the paper: darker on light paper (then the
    picture is inverted, as MNIST's digits are light on black), lighter on a dark screen. (Not
    "is the paper lighter than 0.5?": a dim or shadowed photo of white paper is often darker.)"""
    diff = gray - paper(gray)  # (H, W): > 0 lighter than the paper there, < 0 darker
    light = -float(diff.min()) > float(diff.max())  # dark ink on light paper
    img = -diff if light else diff
    hi = float(img.max())
    if hi < 0.05:
        raise UsageError(f"{name} is blank: no digit or object found")
    img = np.clip(img / hi, 0.0, 1.0)  # background 0, ink 1
    img[img < NOISE] = 0.0  # paper texture and JPEG noise: MNIST's background is exactly 0
    return img


def to_mnist(
    gray: np.ndarray, name: str = "image", framing: Framing = FRAMING["mnist"]
) -> np.ndarray:
    """(H, W) grayscale in [0, 1] -> (28, 28) float32, light digit on black, as in MNIST (or
    framed as ``framing`` says). The ink is measured from the paper's local level (``ink_of``),
    so that an unevenly lit page's shadow is not taken for part of the digit."""
    img = ink_of(gray, name)
    ink = img > framing.trim
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    crop = img[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]

    h, w = crop.shape
    scale = framing.side / max(h, w)  # the longer side becomes 20 pixels (MNIST)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))  # PIL wants (width, height)
    image_mod, _, _ = pillow()
    small = image_mod.fromarray(np.uint8(np.round(crop * 255))).resize(
        size, image_mod.Resampling.LANCZOS
    )
    patch = np.asarray(small, np.float32) / 255.0  # (h', w'), both <= framing.side

    if framing.by_mass:
        mass = patch.sum()
        cy = float((patch.sum(axis=1) * np.arange(patch.shape[0])).sum() / mass)
        cx = float((patch.sum(axis=0) * np.arange(patch.shape[1])).sum() / mass)
    else:  # the bounding box's centre
        cy, cx = (patch.shape[0] - 1) / 2, (patch.shape[1] - 1) / 2
    top = int(np.clip(round(13.5 - cy), 0, 28 - patch.shape[0]))  # (cy, cx) to (13.5, 13.5)
    left = int(np.clip(round(13.5 - cx), 0, 28 - patch.shape[1]))
    out = np.zeros((28, 28), np.float32)
    out[top : top + patch.shape[0], left : left + patch.shape[1]] = patch
    return out


def newest_checkpoint() -> Path:
    found = sorted(Path("runs").glob(f"cnn-*/{CHECKPOINT}"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise UsageError(
            "no checkpoint found: train one with `python -m experiments.cnn` "
            f"(it writes runs/cnn-<time>/{CHECKPOINT}), then pass --checkpoint PATH"
        )
    return found[-1]


def load_model(path: Path):  # noqa: ANN201  (returns (model, (params, model_state), meta))
    meta = read_meta(path)
    module = EXPERIMENTS.get(meta.get("experiment", ""))
    if module is None or "class_names" not in meta:
        raise UsageError(f"{path} is not a checkpoint of one of: {', '.join(EXPERIMENTS)}")
    model = module.build_model(len(meta["class_names"]))
    return model, load_weights(path, model, tuple(meta["in_shape"])), meta


def class_probabilities(model, weights, x: jax.Array) -> jax.Array:  # noqa: ANN001
    """(N, 28, 28, 1) normalised inputs -> (N, K) class probabilities, from the weights
    (parameters, model state) of ``load_model``: the one place where the commands call the
    model."""
    params, model_state = weights
    logits, _, _ = model.forward(params, model_state, x, train=False)
    return jax.nn.softmax(logits, axis=-1)


class Predictor:
    """A checkpoint loaded once and its forward compiled once per batch size: (N, 28, 28)
    MNIST-like inputs in [0, 1] -> (N, K) probabilities. Safe to call from several threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.model, self.weights, self.meta = load_model(path)
        self.class_names: list[str] = list(self.meta["class_names"])
        self.framing = framing_of(self.meta)  # for to_mnist
        self.forward = jax.jit(lambda weights, x: class_probabilities(self.model, weights, x))
        self.lock = threading.Lock()  # one model call at a time

    def __call__(self, images: np.ndarray) -> np.ndarray:
        x = (images[..., None] - np.float32(self.meta["mean"])) / np.float32(self.meta["std"])
        with self.lock:
            return np.asarray(self.forward(self.weights, jax.numpy.asarray(x, np.float32)))


def save_side_by_side(original: np.ndarray, processed: np.ndarray, path: Path) -> Path:
    """The original (grayscale, 280 px high) and the 28x28 input (x10), side by side."""
    image_mod, _, _ = pillow()
    left = image_mod.fromarray(np.uint8(original * 255))
    left = left.resize((max(1, round(left.width * 280 / left.height)), 280))
    right = image_mod.fromarray(np.uint8(processed * 255)).resize(
        (280, 280), image_mod.Resampling.NEAREST
    )
    canvas = image_mod.new("L", (left.width + 300, 280), 128)
    canvas.paste(left, (0, 0))
    canvas.paste(right, (left.width + 20, 0))
    out = path.with_name(f"{path.stem}-preprocessed.png")
    try:
        canvas.save(out)
    except OSError as e:
        raise UsageError(f"cannot write {out}: {e.strerror or e}") from None
    return out


def predict(images: Sequence[str], checkpoint: str | None, show: bool) -> None:
    grays = [read_gray(Path(p)) for p in images]  # check every input before any work
    path = Path(checkpoint) if checkpoint else newest_checkpoint()
    framing = framing_of(read_meta(path))
    inputs = np.stack([to_mnist(g, p, framing) for g, p in zip(grays, images, strict=True)])
    predictor = Predictor(path)  # (N, 28, 28) -> (N, K)
    probs = predictor(inputs)  # (N, K)
    names, meta = predictor.class_names, predictor.meta
    print(f"Checkpoint: {predictor.path} ({meta['experiment']}, {len(names)} classes)")
    for p, gray, row, x in zip(images, grays, probs, inputs, strict=True):
        best = int(row.argmax())
        print(f"{p}: {names[best]} (probability {row[best]:.4f})")
        print("  " + "  ".join(f"{n}: {q:.4f}" for n, q in zip(names, row, strict=True)))
        if show:
            print(f"  saved {save_side_by_side(gray, x, Path(p))}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = CliParser(
        prog="python -m experiments.predict",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="PNG or JPEG files")
    p.add_argument(
        "--checkpoint",
        metavar="PATH",
        help=f"a run's {CHECKPOINT} (default: the newest runs/cnn-*/{CHECKPOINT})",
    )
    p.add_argument(
        "--show",
        action="store_true",
        help="save each preprocessed 28x28 beside its original as a PNG",
    )
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return guarded(lambda: predict(args.images, args.checkpoint, args.show))


if __name__ == "__main__":
    sys.exit(main())
