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
Needs Pillow: pip install -e '.[image]'. The preprocessing is data/images.py, data/paper.py and
data/framing.py; the model is experiments/predictor.py (experiments.draw serves the same).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from data.framing import to_mnist
from data.images import pillow, read_gray
from experiments.cli import CliParser
from experiments.outcome import FileError, guarded
from experiments.predictor import Predictor, framing_of, newest_checkpoint
from experiments.rundir import CHECKPOINT
from nn.checkpoint import read_meta


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
        raise FileError(f"cannot write {out}: {e.strerror or e}") from None
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
