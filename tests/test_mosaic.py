"""The image figures (experiments/mosaic.py): one Axes, every image square in its own cell under
its caption, mistakes captioned in red."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.colors import to_rgba  # noqa: E402

from experiments import plots  # noqa: E402


def drawn(monkeypatch, draw) -> object:  # noqa: ANN001
    """The figure that ``draw()`` saves (kept open for inspection), and the path it wrote."""
    figures = []
    save = plots.save
    monkeypatch.setattr(
        plots, "save", lambda plt, fig, path: figures.append(fig) or save(plt, fig, path)
    )
    path = draw()
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (fig,) = figures
    return fig


def test_image_grid_puts_each_image_square_in_its_own_cell_under_its_caption(monkeypatch, tmp_path):
    rng = np.random.default_rng(0)
    n, cols = 13, 5
    images = rng.random((n, 28, 28, 1), dtype=np.float32)
    labels = np.arange(n) % 10
    preds = labels.copy()
    preds[[2, 7]] = (labels[[2, 7]] + 1) % 10  # two mistakes
    names = [f"class {k}" for k in range(10)]
    plt = plots.pyplot()
    notes = [f"p={i / 20:.2f}" for i in range(n)]

    def draw():  # noqa: ANN202
        path = tmp_path / "grid.png"
        return plots.image_grid(plt, path, images, labels, preds, names, "T", notes, cols=cols)

    fig = drawn(monkeypatch, draw)
    (ax,) = fig.axes  # one Axes for the whole grid
    shown = ax.get_images()
    assert len(shown) == n
    width, height = fig.get_size_inches()
    boxes = []
    for i, im in enumerate(shown):
        np.testing.assert_array_equal(im.get_array(), images[i, :, :, 0])
        left, right, bottom, top = im.get_extent()
        r, c = divmod(i, cols)
        assert c < left < right < c + 1 and r < top < bottom < r + 1  # inside cell (r, c)
        # square on paper: the Axes spans the figure's width and maps y in [0, rows] downwards
        ax_h = ax.get_position().height * height
        rows = -(-n // cols)
        assert (right - left) * width / cols == pytest.approx((bottom - top) * ax_h / rows)
        boxes.append((left, right, top, bottom))
    captions = {t.get_text(): t for t in ax.texts}
    for i in range(n):
        text = f"{names[preds[i]]} ({names[labels[i]]})\n{notes[i]}"
        caption = captions[text]
        x, y = caption.get_position()
        left, right, top, _ = boxes[i]
        assert left < x < right and y <= top  # centred above its image
        red = preds[i] != labels[i]
        assert to_rgba(caption.get_color()) == to_rgba("red" if red else "black")
    plt.close(fig)


def test_an_empty_grid_writes_nothing(tmp_path):
    plt = plots.pyplot()
    empty = np.zeros((0, 28, 28, 1), np.float32)
    path = tmp_path / "none.png"
    none = np.zeros(0, int)
    assert plots.image_grid(plt, path, empty, none, none, ["a"], "T") is None
    assert not path.exists()


def test_augmented_grid_frames_each_original_and_shares_its_grey_scale_with_its_draws(
    monkeypatch, tmp_path
):
    from experiments import augmented

    rng = np.random.default_rng(1)
    x = rng.random((3, 28, 28, 1), dtype=np.float32) * [[[[0.5]]], [[[1.0]]], [[[2.0]]]]
    draws = rng.random((4, 3, 28, 28, 1), dtype=np.float32)
    figures = []
    save = augmented.save
    monkeypatch.setattr(
        augmented, "save", lambda plt, fig, path: figures.append(fig) or save(plt, fig, path)
    )
    assert (
        augmented.save_augmented_grid(tmp_path / "aug.png", x, draws).read_bytes()[:4] == b"\x89PNG"
    )
    ((ax,),) = [fig.axes for fig in figures]
    shown = ax.get_images()
    assert len(shown) == 3 * 5 and len(ax.lines) == 3  # one frame per original
    for i in range(3):
        row = shown[5 * i : 5 * (i + 1)]
        np.testing.assert_array_equal(row[0].get_array(), x[i, :, :, 0])
        assert {im.get_clim() for im in row} == {(float(x[i].min()), float(x[i].max()))}
    plots.pyplot().close(figures[0])
