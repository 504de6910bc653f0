"""Digits from outside MNIST: how well a checkpoint reads handwriting that MNIST's writers, pens
and scanner did not make.

    python -m benchmarks.outside_digits --checkpoint PATH [--json OUT] [--save-samples DIR]
                                        [--per-class N] [--seed N] [--no-uci]

The set (benchmarks/digit_set.py) holds, per category, drawings of every digit in several
styles, and real handwriting by other writers where scikit-learn is importable. Every file is
read exactly as ``experiments.predict`` reads files: ``decode_gray`` (data/images.py),
``to_mnist`` (data/framing.py) and a ``Predictor`` (experiments/predictor.py). The report gives
the accuracy of each category and style, and for each category the classes read worst, with
what they were read as.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks.digit_set import UCI, Sample, generate
from experiments.cli import CliParser, non_negative_int, positive_int
from experiments.outcome import guarded

# ------------------------------------------------------------------ scoring


def preprocess(samples: Sequence[Sample], framing: tuple | None = None) -> np.ndarray:
    """(N, 28, 28) float32: every file read as experiments.predict reads it, framed as
    ``framing`` (a checkpoint's ``Predictor.framing``; MNIST's by default)."""
    from data.framing import MNIST_FRAMING, to_mnist
    from data.images import decode_gray

    framing = framing or MNIST_FRAMING
    return np.stack([to_mnist(decode_gray(s.data, s.style), s.style, framing) for s in samples])


def score(samples: Sequence[Sample], predictions: np.ndarray) -> dict:
    """Accuracy overall, per category and per style; for each category its three worst classes
    with their recall and what they were most often read as."""
    labels = np.array([s.label for s in samples])
    right = predictions == labels
    cats = list(dict.fromkeys(s.category for s in samples))
    result: dict = {"overall": float(right.mean()), "count": len(samples), "categories": {}}
    drawn = np.array([s.category != UCI for s in samples])
    if drawn.any():
        result["drawn"] = float(right[drawn].mean())
    for cat in cats:
        rows = np.array([s.category == cat for s in samples])
        y, p = labels[rows], predictions[rows]
        confusion = np.zeros((10, 10), np.int64)
        np.add.at(confusion, (y, p), 1)
        recall = np.diag(confusion) / np.maximum(confusion.sum(1), 1)
        worst = []
        for k in np.argsort(recall, kind="stable")[:3]:
            wrong = confusion[k].copy()
            wrong[k] = 0
            worst.append(
                {"class": int(k), "recall": float(recall[k]), "read_as": int(wrong.argmax())}
            )
        styles = {}
        for style in dict.fromkeys(s.style for s, r in zip(samples, rows, strict=True) if r):
            if style:
                mask = rows & np.array([s.style == style for s in samples])
                styles[style] = float(right[mask].mean())
        result["categories"][cat] = {
            "accuracy": float(right[rows].mean()),
            "count": int(rows.sum()),
            "worst": worst,
            "styles": styles,
            "confusion": confusion.tolist(),
        }
    return result


def format_report(result: dict) -> str:
    lines = [f"{'category':<24} {'n':>5} {'accuracy':>9}   worst classes: recall (read as)"]
    for cat, r in result["categories"].items():
        worst = ", ".join(f"{w['class']}: {w['recall']:.2f} ({w['read_as']})" for w in r["worst"])
        lines.append(f"{cat:<24} {r['count']:>5} {r['accuracy']:>9.2%}   {worst}")
    if "drawn" in result:
        lines.append(f"{'all drawn categories':<24} {'':>5} {result['drawn']:>9.2%}")
    lines.append(f"{'overall':<24} {result['count']:>5} {result['overall']:>9.2%}")
    by_style: dict[str, list[float]] = {}
    for cat in result["categories"].values():
        for s, a in cat["styles"].items():
            by_style.setdefault(s, []).append(a)
    hardest = sorted(by_style, key=lambda s: np.mean(by_style[s]))[:8]
    lines.append(
        "hardest styles (mean over drawn categories): "
        + ", ".join(f"{s} {np.mean(by_style[s]):.0%}" for s in hardest)
    )
    return "\n".join(lines)


def save_samples(directory: Path, samples: Sequence[Sample], inputs: np.ndarray) -> list[Path]:
    """For each category, a grid of its first 30 files as drawn (top) and as the model sees
    them (bottom); needs matplotlib (returns [] without it)."""
    from data.images import decode_gray
    from experiments.plots import pyplot, save

    plt = pyplot()
    if plt is None:
        return []
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for cat in dict.fromkeys(s.category for s in samples):
        idx = [i for i, s in enumerate(samples) if s.category == cat][:30]
        rows = 2 * -(-len(idx) // 10)  # each row of files, then the row of what the model sees
        fig, axes = plt.subplots(rows, 10, figsize=(12, 1.4 * rows), squeeze=False)
        for j, i in enumerate(idx):
            top, bottom = axes[(j // 10) * 2, j % 10], axes[(j // 10) * 2 + 1, j % 10]
            top.imshow(decode_gray(samples[i].data, ""), cmap="gray", vmin=0, vmax=1)
            top.set_title(samples[i].style or str(samples[i].label), fontsize=7)
            bottom.imshow(inputs[i], cmap="gray", vmin=0, vmax=1)
        for ax in axes.flat:
            ax.axis("off")
        fig.suptitle(f"{cat}: as drawn, and the 28x28 the model sees")
        slug = "".join(ch if ch.isalnum() else "-" for ch in cat).strip("-")
        paths.append(save(plt, fig, directory / f"outside-{slug}.png"))
    return paths


def run(
    checkpoint: Path, per_class: int, seed: int, uci: bool = True
) -> tuple[dict, list[Sample], np.ndarray]:
    """Make the set, read it as experiments.predict does, and score ``checkpoint`` on it."""
    from experiments.predictor import Predictor

    predictor = Predictor(checkpoint)
    start = time.perf_counter()
    samples = list(generate(per_class, seed, uci))
    inputs = preprocess(samples, predictor.framing)
    made = time.perf_counter() - start
    probs = np.concatenate([predictor(inputs[i : i + 500]) for i in range(0, len(inputs), 500)])
    result = score(samples, probs.argmax(1))
    result.update(
        checkpoint=str(checkpoint),
        seed=seed,
        per_class=per_class,
        uci="included"
        if any(s.category == UCI for s in samples)
        else ("skipped: --no-uci" if not uci else "skipped: scikit-learn is not installed"),
        seconds_to_make=round(made, 1),
    )
    return result, samples, inputs


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = CliParser(
        prog="python -m benchmarks.outside_digits",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--checkpoint", required=True, metavar="PATH", help="a run's checkpoint.npz")
    p.add_argument("--json", metavar="OUT", help="also write the scores as JSON")
    p.add_argument("--save-samples", metavar="DIR", help="save a grid PNG of each category")
    p.add_argument(
        "--per-class", type=positive_int, default=40, help="drawings per digit and category"
    )
    p.add_argument(
        "--seed", type=non_negative_int, default=0, help="the set's seed (0: the reported set)"
    )
    p.add_argument("--no-uci", action="store_true", help="leave out the UCI digits")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)

    def go() -> None:
        result, samples, inputs = run(
            Path(args.checkpoint), args.per_class, args.seed, not args.no_uci
        )
        print(f"Checkpoint: {args.checkpoint}; UCI digits: {result['uci']}")
        print(format_report(result))
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=1))
        if args.save_samples:
            for path in save_samples(Path(args.save_samples), samples, inputs):
                print(f"saved {path}")

    return guarded(go)


if __name__ == "__main__":
    sys.exit(main())
