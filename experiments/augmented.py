"""augmented.png: what a run's --augment does, as draws of the first test images beside them."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np

from data.augment import make_augment, parse_augment
from experiments.mosaic import Mosaic
from experiments.plots import pyplot, save
from experiments.start import Run
from nn.runtime import ONE_SHOT


def save_augmentation_figure(run: Run, images: int = 8, draws: int = 6) -> Path | None:
    """augmented.png: what the run's --augment does, as ``draws`` draws of the first ``images``
    test images beside them (the training images are no longer on the host). None when the
    run augments nothing or matplotlib is missing."""
    augment = make_augment(parse_augment(run.cfg.augmentation))
    if augment is None:
        return None
    x = run.data.x_test[:images]  # (n, H, W, C)

    def draw(key: jax.Array, x: jax.Array) -> jax.Array:  # (D, N, H, W, C): D draws of x
        return jax.vmap(augment, in_axes=(0, None))(jax.random.split(key, draws), x)

    # one program (op by op: about a hundred small ones), compiled for speed of compilation
    augmented = np.asarray(
        jax.jit(draw, compiler_options=ONE_SHOT)(jax.random.key(run.cfg.seed), x)
    )
    title = f"--augment {run.cfg.augmentation}: {draws} draws of {images} test images"
    return save_augmented_grid(run.folder / "augmented.png", x, augmented, title)


def save_augmented_grid(
    path: Path, x: np.ndarray, augmented: np.ndarray, title: str = "Augmented training images"
) -> Path | None:
    """One row per image: the original x[i] (N, H, W, C) in the first column, then its D draws
    augmented[:, i] (D, N, H, W, C). Every image of a row shares the original's grey scale, so
    a change of brightness or thickness shows. Returns None (and writes nothing) without
    matplotlib."""
    plt = pyplot()
    if plt is None:
        return None
    n, d = len(x), len(augmented)
    grid = Mosaic(plt, n, d + 1, title, cell=1.0)
    for i in range(n):
        lo, hi = float(x[i].min()), float(x[i].max())
        shade = dict(cmap="gray_r", vmin=lo, vmax=max(hi, lo + 1e-6))
        grid.tile(i, 0, x[i, :, :, 0], "original" if i == 0 else "", frame="tab:blue", **shade)
        for j in range(d):
            grid.tile(
                i, j + 1, augmented[j, i, :, :, 0], f"draw {j + 1}" if i == 0 else "", **shade
            )
    return save(plt, grid.fig, path)
