"""Figures of a run, saved as PNG in the run folder (matplotlib, headless; optional):

curves.png             training loss and accuracy about ten times an epoch; validation, test
confusion_matrix.png   heatmap with the count in every cell
predictions.png        a grid of test images, predicted vs actual, mistakes in red
mistakes.png           the most confident mistakes, with their probabilities
classes.png            the first test image of each class
augmented.png          test images beside augmented draws of them (experiments/augmented.py)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from experiments.mosaic import Mosaic

INSTALL_HINT = "plots skipped: matplotlib is not installed (pip install -e '.[plots]')"


def pyplot():  # noqa: ANN201  (matplotlib is optional: no type to name without importing it)
    """matplotlib.pyplot on the headless Agg backend, or None when matplotlib is absent."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_run_plots(
    out_dir: Path,
    history: Sequence[dict],
    images: np.ndarray,
    labels: np.ndarray,
    probs: np.ndarray,
    class_names: Sequence[str],
    confusion: np.ndarray,
    title: str = "",
    test: tuple[float, float] | None = None,
) -> list[Path]:
    """Write the five figures; returns their paths (empty if matplotlib is missing). ``test``
    is the (loss, accuracy) on the test split after the last epoch, drawn on the curves."""
    plt = pyplot()
    if plt is None:
        print(INSTALL_HINT)
        return []
    preds = probs.argmax(axis=1)
    paths = [
        curves(plt, out_dir / "curves.png", history, title, test),
        confusion_heatmap(plt, out_dir / "confusion_matrix.png", confusion, class_names, title),
        image_grid(
            plt,
            out_dir / "predictions.png",
            images[:40],
            labels[:40],
            preds[:40],
            class_names,
            "Test images: predicted (actual)",
        ),
        confident_mistakes(plt, out_dir / "mistakes.png", images, labels, probs, class_names),
        first_of_each_class(plt, out_dir / "classes.png", images, labels, class_names),
    ]
    return [p for p in paths if p is not None]


LOSS_TICKS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50)
ACCURACY_TICKS = (0.01, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.998, 0.999)


def label_ticks(ax, ticks: Sequence[float]) -> None:  # noqa: ANN001
    """Label the y axis with those of ``ticks`` that fall inside it, written as plain numbers
    (no 10^-1 or 1 - 10^-2), and no minor ticks."""
    lo, hi = ax.get_ylim()
    inside = [t for t in ticks if lo <= t <= hi]
    ax.set_yticks(inside, [f"{t:g}" for t in inside])
    ax.set_yticks([], minor=True)


def curves(
    plt,  # noqa: ANN001
    path: Path,
    history: Sequence[dict],
    title: str,
    test: tuple[float, float] | None = None,
) -> Path:
    """Loss and accuracy against epochs (fractional): a line through every epoch's training-curve
    points (each the mean over the steps since the previous point, about ten an epoch: see
    experiments/epoch.py), a square where the validation split was measured (each epoch's end)
    and a star for the test split (after the last epoch). A row without points (from a run of an
    earlier version) stands for one point at its epoch's end, the epoch's mean."""
    points = [p for row in history for p in row.get("points") or [row]]
    x = [float(p["epoch"]) for p in points]
    last = float(history[-1]["epoch"]) if history else 1.0
    first = next((row["points"][0] for row in history if row.get("points")), None)
    training = f"training, per {first['step']} steps" if first else "training, epoch means"
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, (key, i) in zip(axes, (("loss", 0), ("accuracy", 1)), strict=True):
        ax.plot(x, [p[key] for p in points], ".-", ms=4, label=training)
        val = [(h["epoch"], h["val_" + key]) for h in history if "val_" + key in h]
        if val:
            ax.plot(*zip(*val, strict=True), "s", ms=7, label=f"validation, last {val[-1][1]:.4f}")
        if test is not None:
            ax.plot([last], [test[i]], "*", ms=14, label=f"test {test[i]:.4f}")
        ax.set_xlabel("epoch")
        ax.set_xlim(0, last * 1.03)
        if last <= 20:
            ax.set_xticks(range(int(last) + 1))
        if key == "loss":  # log scale: the late, small losses stay apart
            ax.set_yscale("log")
            ax.set_ylabel("loss (log scale)")
            label_ticks(ax, LOSS_TICKS)
        else:  # logit scale: 0.98, 0.99 and 0.995 as far apart as 0.5, 0.7 and 0.9
            ax.set_yscale("logit", nonpositive="clip")
            ax.set_ylabel("accuracy (logit scale)")
            label_ticks(ax, ACCURACY_TICKS)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right" if key == "loss" else "lower right")
    fig.suptitle(f"Training curves {title}".strip())
    return save(plt, fig, path)


def confusion_heatmap(plt, path: Path, cm: np.ndarray, names: Sequence[str], title: str) -> Path:  # noqa: ANN001
    k = len(names)
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * k, 0.6 + 0.7 * k))
    ax.imshow(np.log1p(cm), cmap="Blues")  # log scale: the off-diagonal errors stay visible
    threshold = np.log1p(cm).max() / 2
    for t in range(k):
        for p in range(k):
            color = "white" if np.log1p(cm[t, p]) > threshold else "black"
            ax.text(p, t, str(cm[t, p]), ha="center", va="center", fontsize=8, color=color)
    ax.set_xticks(range(k), names, rotation=45, ha="right")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"Confusion matrix {title}".strip())
    return save(plt, fig, path)


def image_grid(
    plt,  # noqa: ANN001
    path: Path,
    images: np.ndarray,
    labels: np.ndarray,
    preds: np.ndarray,
    names: Sequence[str],
    title: str,
    notes: Sequence[str] | None = None,
    cols: int = 10,
) -> Path | None:
    """Images (N, H, W, 1) captioned "predicted (actual)" (and ``notes``), mistakes in red."""
    n = len(images)
    if n == 0:
        return None
    grid = Mosaic(plt, -(-n // cols), cols, title, caption_lines=1 if notes is None else 2)
    for i in range(n):
        text = f"{names[preds[i]][:9]} ({names[labels[i]][:9]})"
        if notes is not None:
            text += f"\n{notes[i]}"
        red = preds[i] != labels[i]
        grid.tile(i // cols, i % cols, images[i, :, :, 0], text, "red" if red else "black",
                  cmap="gray_r")  # fmt: skip
    return save(plt, grid.fig, path)


def confident_mistakes(
    plt,  # noqa: ANN001
    path: Path,
    images: np.ndarray,
    labels: np.ndarray,
    probs: np.ndarray,
    names: Sequence[str],
    count: int = 20,
) -> Path | None:
    preds = probs.argmax(axis=1)
    wrong = np.flatnonzero(preds != labels)
    order = wrong[np.argsort(-probs[wrong, preds[wrong]], kind="stable")][:count]
    notes = [f"p={probs[i, preds[i]]:.2f}" for i in order]
    return image_grid(
        plt,
        path,
        images[order],
        labels[order],
        preds[order],
        names,
        f"Most confident mistakes ({len(wrong)} in all): predicted (actual)",
        notes,
    )


def first_of_each_class(
    plt,  # noqa: ANN001
    path: Path,
    images: np.ndarray,
    labels: np.ndarray,
    names: Sequence[str],
) -> Path | None:
    firsts = [int(np.flatnonzero(labels == c)[0]) for c in range(len(names)) if np.any(labels == c)]
    if not firsts:
        return None
    grid = Mosaic(plt, 1, len(firsts), "First test image of each class", cell=1.4)
    for c, i in enumerate(firsts):
        grid.tile(0, c, images[i, :, :, 0], names[labels[i]], fontsize=8, cmap="gray_r")
    return save(plt, grid.fig, path)


def save(plt, fig, path: Path) -> Path:  # noqa: ANN001
    """Save atomically (a temporary name, then rename) and close the figure. Figures of
    subplots are laid out tightly first; a Mosaic has its own layout."""
    tmp = path.with_name(f".{path.name}.part")
    if all(ax.get_subplotspec() is not None for ax in fig.axes):
        fig.tight_layout()
    fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    tmp.replace(path)
    return path
