"""A grid of small images as one figure with a single Axes (matplotlib, headless).

One Axes per image, as ``plt.subplots(rows, cols)`` gives, costs tens of milliseconds each to
create and lay out: a run's five image figures took about 2.5 of its 4 seconds of plotting.
Here every image is an ``imshow`` placed at its cell of one Axes that fills the figure below
the title, and each caption is a text above its image.

    grid = Mosaic(plt, rows, cols, "Title")
    grid.tile(r, c, image, caption="3 (5)", color="red", cmap="gray_r")
    save(plt, grid.fig, path)

Coordinates: cell (r, c) spans x in [c, c + 1] and y in [r, r + 1] of the Axes, y growing
downwards; a cell is ``cell`` inches wide and ``cell`` plus its caption lines tall.
"""

from __future__ import annotations

from typing import Any

import numpy as np

CAPTION = 0.22  # inches of cell height per caption line (7-point text)
TITLE = 0.2  # inches above the grid for the title, per line of it, plus the same once
MARGIN = 0.07  # fraction of a cell's width left empty on each side of its image


class Mosaic:
    """A figure of ``rows`` x ``cols`` cells under ``title`` and the one Axes that holds them
    (``fig``, ``ax``); ``tile`` draws an image into a cell."""

    def __init__(
        self,
        plt: Any,  # noqa: ANN401  (matplotlib.pyplot: optional, so not imported here)
        rows: int,
        cols: int,
        title: str,
        caption_lines: int = 1,
        cell: float = 1.3,
        title_size: float = 10,
    ) -> None:
        height = cell + CAPTION * caption_lines  # inches per row
        head = TITLE * (1 + len(title.splitlines()))  # inches above the grid
        total = height * rows + head
        self.fig = plt.figure(figsize=(cell * cols, total))
        self.ax = self.fig.add_axes((0.0, 0.0, 1.0, height * rows / total))
        self.ax.set_xlim(0, cols)
        self.ax.set_ylim(rows, 0)
        self.ax.set_axis_off()
        self.caption = CAPTION * caption_lines / height  # cell heights above the image
        self.side = cell * (1 - 2 * MARGIN) / height  # the image's height in cell heights
        self.fig.suptitle(title, fontsize=title_size, y=1 - 0.5 * TITLE / total, va="top")

    def tile(
        self,
        r: int,
        c: int,
        image: np.ndarray,
        caption: str = "",
        color: str = "black",
        fontsize: float = 7,
        frame: str | None = None,
        **imshow: Any,  # noqa: ANN401
    ) -> None:
        """Draw ``image`` ((H, W) through a colormap, or (H, W, 3) RGB) square in cell (r, c),
        under its ``caption``; ``frame`` is the colour of a line around it (None: no line)."""
        left, right = c + MARGIN, c + 1 - MARGIN
        top = r + self.caption
        bottom = top + self.side
        self.ax.imshow(image, extent=(left, right, bottom, top), aspect="auto", **imshow)
        if caption:
            self.ax.text(c + 0.5, top - 0.02, caption, ha="center", va="bottom",
                         fontsize=fontsize, color=color, linespacing=1.1)  # fmt: skip
        if frame is not None:
            self.ax.plot([left, right, right, left, left], [top, top, bottom, bottom, top],
                         color=frame, linewidth=2, solid_joinstyle="miter")  # fmt: skip
