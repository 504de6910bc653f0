"""Predict the class of your own images (PNG, JPEG, ...) with a trained checkpoint.

    python -m experiments.predict IMAGE [IMAGE ...] [--checkpoint PATH] [--show] [--explain DIR]

Each image is turned into an MNIST-like input the way MNIST itself was made: grayscale, measured
from the paper's level at each place (an unevenly lit page is not one grey), inverted when the
ink is darker than the paper (MNIST digits are light on black), cropped to the digit's bounding
box, scaled to fit 20x20 keeping its aspect ratio, and placed in a 28x28 field so that its centre
of mass sits at the centre. For a Fashion-MNIST checkpoint, as Fashion-MNIST was made: trimmed,
the longer side scaled to 28, the bounding box centred. Without --checkpoint the checkpoint of
the run finished last under runs/ is used, whichever experiment it was (it says which).
``--show`` saves IMAGE's preprocessed 28x28 beside the original as <name>-preprocessed.png.
``--explain DIR`` saves DIR/<name>-explained.png: the 28x28 the network saw and, for its top two
classes, which pixels pushed it towards each (nn/saliency.py; needs matplotlib).
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
from experiments.outcome import FileError, UsageError, guarded
from experiments.plots import pyplot
from experiments.predictor import Predictor, framing_of, newest_checkpoint
from experiments.rundir import CHECKPOINT
from experiments.saliency_figures import save_explanation
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


def explain_folder(directory: str) -> Path:
    """--explain's folder, created if need be."""
    folder = Path(directory)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FileError(f"cannot create --explain folder {folder}: {e.strerror or e}") from None
    return folder


def explained_names(images: Sequence[str]) -> list[str]:
    """<stem>-explained.png for each image; a name taken before gets -2, -3, ... after the stem
    (the first free one, so that a.png, b/a.png and a-2.png write three files)."""
    taken: set[str] = set()
    names = []
    for image in images:
        stem, n = Path(image).stem, 1
        while (name := f"{stem}{'' if n == 1 else f'-{n}'}-explained.png") in taken:
            n += 1
        taken.add(name)
        names.append(name)
    return names


def save_explanations(
    predictor: Predictor, inputs: np.ndarray, probs: np.ndarray, images: Sequence[str], to: str
) -> list[Path]:
    """For each input (N, 28, 28) with its probabilities (N, K), the maps of its top two
    classes, saved in the folder ``to``."""
    top = np.argsort(-probs, axis=1, kind="stable")[:, :2]  # (N, 2), or (N, 1) for 1 class
    maps = [predictor.explain(inputs, top[:, j]) for j in range(top.shape[1])]
    folder = explain_folder(to)
    paths = []
    for i, name in enumerate(explained_names(images)):
        out = folder / name
        try:
            save_explanation(
                out,
                inputs[i],
                [predictor.class_names[k] for k in top[i]],
                [float(probs[i, k]) for k in top[i]],
                [m.strokes[i] for m in maps],
                [m.gradient[i] for m in maps],
            )
        except OSError as e:
            raise FileError(f"cannot write {out}: {e.strerror or e}") from None
        paths.append(out)
    return paths


def predict(
    images: Sequence[str], checkpoint: str | None, show: bool, explain: str | None = None
) -> None:
    grays = [read_gray(Path(p)) for p in images]  # check every input before any work
    path = Path(checkpoint) if checkpoint else newest_checkpoint()
    framing = framing_of(read_meta(path))
    inputs = np.stack([to_mnist(g, p, framing) for g, p in zip(grays, images, strict=True)])
    if explain and pyplot() is None:
        raise UsageError("--explain draws with matplotlib: pip install -e '.[plots]'")
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
    if explain:
        saved = save_explanations(predictor, inputs, probs, images, explain)
        print(f"Saved {len(saved)} explanations in {explain} (red: towards the class, blue: away)")


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
        help=f"a run's {CHECKPOINT} (default: that of the run finished last under runs/)",
    )
    p.add_argument(
        "--show",
        action="store_true",
        help="save each preprocessed 28x28 beside its original as a PNG",
    )
    p.add_argument(
        "--explain",
        metavar="DIR",
        help="save a PNG per image in DIR: what the network saw and its top two classes' maps",
    )
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return guarded(lambda: predict(args.images, args.checkpoint, args.show, args.explain))


if __name__ == "__main__":
    sys.exit(main())
