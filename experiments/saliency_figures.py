"""Saliency maps (nn/saliency.py) drawn over the picture the network saw, as PNG figures
(matplotlib, headless; optional):

saliency.png            a run's test digits, read right and wrong, each with its map
<name>-explained.png    ``experiments.predict --explain``: one picture and its top two classes

Every map is drawn the way the drawing page draws it (experiments/draw_page/answer.js): the
digit as light grey ink on white paper, and over it red where the pixel pushes the score of the
class up, blue where it pushes it down, more opaque the larger the pixel's |value|, fully opaque
from the map's 99th percentile of |value| up (scaled to its single largest value, a few pixels
would hide the rest). Red and blue are the ends of ColorBrewer's RdBu diverging scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from experiments.mosaic import Mosaic
from experiments.plots import pyplot, save

SHADE = 0.3  # the ink's grey under the map: 1 - SHADE * ink (paper stays white)
FULL = 0.99  # quantile of |value| from which a pixel's colour is fully opaque
RED = np.array([178, 24, 43]) / 255  # pushes towards the class
BLUE = np.array([33, 102, 172]) / 255  # pushes away from it
LEGEND = "red pushes towards the class, blue away from it"


def overlay(ink: np.ndarray, saliency: np.ndarray) -> np.ndarray:
    """(H, W) ink in [0, 1] and its (H, W) map -> (H, W, 3) RGB in [0, 1]: the map over the
    ink, each pixel's colour as opaque as its |value| is near the map's FULL quantile."""
    size = np.abs(saliency)  # (H, W)
    top = float(np.quantile(size, FULL)) or float(size.max())  # the largest when few are not 0
    alpha = np.minimum(size / top, 1.0) if top > 0 else np.zeros_like(size)  # (H, W)
    base = np.repeat((1.0 - SHADE * ink)[..., None], 3, axis=-1)  # (H, W, 3) grey on white
    colour = np.where(saliency[..., None] > 0, RED, BLUE)  # (H, W, 3)
    return (1.0 - alpha[..., None]) * base + alpha[..., None] * colour


def bare(ax) -> None:  # noqa: ANN001
    ax.set_xticks([])
    ax.set_yticks([])


def save_explanation(
    path: Path,
    image: np.ndarray,
    names: Sequence[str],
    probs: Sequence[float],
    strokes: Sequence[np.ndarray],
    gradients: Sequence[np.ndarray],
) -> Path | None:
    """One picture (28, 28) as the network saw it, then for each class (its name and
    probability) its map as gradient x input (top row) and as the gradient (bottom row).
    None without matplotlib."""
    plt = pyplot()
    if plt is None:
        return None
    cols = 1 + len(names)
    fig, axes = plt.subplots(2, cols, figsize=(2.3 * cols, 5.0), squeeze=False)
    axes[0, 0].imshow(image, cmap="gray", vmin=0, vmax=1)
    axes[0, 0].set_title("what the network saw", fontsize=9)
    axes[1, 0].axis("off")
    axes[1, 0].text(
        0.5,
        0.5,
        "top: gradient x input\n(which strokes)\n\nbottom: gradient\n(where ink would\npush)",
        ha="center",
        va="center",
        fontsize=8,
    )
    for j, (name, p, s, g) in enumerate(zip(names, probs, strokes, gradients, strict=True)):
        axes[0, j + 1].imshow(overlay(image, s))
        shown = f"{p:.4f}" if p >= 1e-4 else f"{p:.1e}"
        axes[0, j + 1].set_title(f"{name}: p = {shown}", fontsize=9)
        axes[1, j + 1].imshow(overlay(image, g))
    for ax in axes.flat:
        bare(ax)
    fig.suptitle(f"Why? Gradient of log p(class): {LEGEND}", fontsize=9)
    return save(plt, fig, path)


def save_saliency_grid(
    path: Path,
    images: np.ndarray,
    labels: np.ndarray,
    preds: np.ndarray,
    maps: np.ndarray,
    names: Sequence[str],
    title: str = "",
    cols: int = 10,
) -> Path | None:
    """Images (N, 28, 28) in [0, 1], each with its map (N, 28, 28) of the class it was read
    as; titled "predicted (actual)", mistakes in red. None without matplotlib or images."""
    plt = pyplot()
    if plt is None or len(images) == 0:
        return None
    heading = f"{title}\nGradient x input of log p(predicted): {LEGEND}".strip()
    grid = Mosaic(plt, -(-len(images) // cols), cols, heading, title_size=9)
    for i in range(len(images)):
        wrong = preds[i] != labels[i]
        text = f"{names[preds[i]][:9]} ({names[labels[i]][:9]})"
        grid.tile(
            i // cols, i % cols, overlay(images[i], maps[i]), text, "red" if wrong else "black"
        )
    return save(plt, grid.fig, path)
