"""The preprocessing of your own pictures (data/paper.py, data/framing.py) under uneven light:
the paper's level is a smooth surface fitted to the border (``paper``), so that a shadow across
the page is not read as ink, while an evenly lit picture is read exactly as with one background
level."""

import io

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from data import ImageError
from data.framing import INK, to_mnist
from data.images import decode_gray
from data.paper import NOISE, ink_of, paper

PIL = pytest.importorskip("PIL.Image")


def page(paper_level: float, ink: float, size: tuple[int, int] = (160, 120)) -> np.ndarray:
    """An evenly lit page (H, W) = ``size`` with a digit 4 drawn on it, float32 in [0, 1]."""
    from PIL import ImageDraw

    h, w = size
    im = PIL.new("F", (w, h), paper_level)
    pen = ImageDraw.Draw(im)
    pen.line([(0.45 * w, 0.2 * h), (0.25 * w, 0.6 * h), (0.75 * w, 0.6 * h)], fill=ink, width=9)
    pen.line([(0.62 * w, 0.35 * h), (0.62 * w, 0.82 * h)], fill=ink, width=9)
    return np.array(im, np.float32)


def lighting(size: tuple[int, int], kind: str) -> np.ndarray:
    """(H, W) brightness factor of a lamp to one side (a ramp) or of vignetting (dark corners);
    brightness varies by 40% across the picture."""
    h, w = size
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    if kind == "vignette":
        r2 = (y - y.mean()) ** 2 + (x - x.mean()) ** 2
        return 1.0 - 0.4 * r2 / r2.max()
    dy, dx = {"left": (0.0, 1.0), "up": (1.0, 0.0), "corner": (0.6, -0.4)}[kind]
    ramp = dy * y + dx * x
    return 1.0 + 0.4 * (ramp - ramp.min()) / (ramp.max() - ramp.min()) - 0.2


@pytest.mark.parametrize("kind", ["left", "up", "corner", "vignette"])
@pytest.mark.parametrize("paper_level", [0.55, 0.95])
def test_an_unevenly_lit_page_reads_as_the_evenly_lit_one(kind, paper_level):
    even = page(paper_level, 0.1)
    lit = np.clip(even * lighting(even.shape, kind), 0.0, 1.0)
    paper_range = paper_level * np.ptp(lighting(even.shape, kind))
    assert paper_range > INK * (paper_level - 0.1)  # one level would take the shadow for ink
    a, b = to_mnist(even), to_mnist(lit)
    assert ((a > 0.5) == (b > 0.5)).mean() > 0.99  # the same digit, framed the same way
    assert np.abs(a - b).mean() < 0.02  # (the ink's own contrast varies with the light)


def test_the_paper_is_recovered_under_a_gradient_with_ink_touching_the_edge():
    even = page(0.8, 0.1)
    even[:, 50:60] = 0.1  # a stroke running off the top and bottom edges
    even[90:96, :] = 0.1  # and one off the left and right
    light = lighting(even.shape, "corner")
    rng = np.random.default_rng(0)
    lit = np.clip(even * light + rng.normal(0, 0.01, even.shape), 0, 1).astype(np.float32)
    assert np.abs(paper(lit) - 0.8 * light).max() < 0.01


@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.integers(0, 2**32 - 1))
def test_an_evenly_lit_picture_is_read_against_one_background_level(level, ink, seed):
    """With a uniform border the fitted paper is that level, and the ink is what it was with one
    global level: (distance from the background) / (the largest distance), NOISE and below 0."""
    assume(abs(ink - level) > 0.3)  # dark ink on light paper or the reverse, at any levels
    rng = np.random.default_rng(seed)
    gray = np.full((40, 30), level, np.float32)
    mix = rng.uniform(0, 1, (30, 20)) * (rng.uniform(0, 1, (30, 20)) < 0.3)  # ink coverage
    gray[5:35, 5:25] = level + (ink - level) * mix
    expected = np.abs(gray - level) / np.abs(gray - level).max()
    expected[expected < NOISE] = 0.0
    np.testing.assert_allclose(ink_of(gray), expected, atol=1e-5)


def test_a_page_with_only_a_shadow_or_nothing_on_it_is_blank():
    even = np.full((90, 120), 0.8, np.float32)
    for gray in (even, even * lighting(even.shape, "corner"), even * lighting(even.shape, "up")):
        with pytest.raises(ImageError, match="blank"):
            to_mnist(gray, "shadow.png")
    with pytest.raises(ImageError, match="blank"):
        to_mnist(np.zeros((1, 1), np.float32))


def test_a_transparent_png_reads_as_its_ink_on_plain_background():
    rgba = np.zeros((40, 40, 4), np.uint8)  # transparent black everywhere...
    rgba[10:30, 18:22] = (30, 30, 30, 255)  # ...but for an opaque dark stroke
    buf = io.BytesIO()
    PIL.fromarray(rgba, "RGBA").save(buf, "PNG")
    gray = decode_gray(buf.getvalue(), "stroke.png")
    assert gray[0, 0] == 1.0 and abs(gray[20, 20] - 30 / 255) < 1e-6  # dark ink on white
    rgba[10:30, 18:22] = (230, 230, 230, 255)  # a light stroke instead
    buf = io.BytesIO()
    PIL.fromarray(rgba, "RGBA").save(buf, "PNG")
    gray = decode_gray(buf.getvalue(), "stroke.png")
    assert gray[0, 0] == 0.0 and abs(gray[20, 20] - 230 / 255) < 1e-6  # light ink on black
