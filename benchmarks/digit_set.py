"""A deterministic set of digits from outside MNIST, as files a user might give
``experiments.predict``: grayscale pictures of any size, encoded as PNG (or JPEG for the
photographs). benchmarks/outside_digits.py scores a checkpoint on it. Categories:

    pen           dark ink on white, a ballpoint or felt pen, moderate slant and size
    thick marker  strokes a fifth to a quarter of the digit's height
    thin pen      hair-thin strokes on a large picture
    slanted       strong slants both ways, rotated, narrow and wide
    small, off-centre   a small digit anywhere on a large, slightly noisy page
    blurry        out of focus
    low resolution      digits 8 to 14 pixels high
    grey paper photo    grey paper, grey ink, sensor noise, slight blur, JPEG, even light
    uneven light photo  the same with a shadow: brightness varying by 30% across the picture
    light on dark       white chalk or a dark-mode drawing app
    uci 8x8 (43 writers)   real handwriting: scikit-learn's bundled copy of the UCI optical
                           digits (1,797 digits, 8x8, 43 writers), enlarged 4x as a low-resolution
                           photo would be; only when scikit-learn is importable (nothing is
                           downloaded), else the category is skipped and the report says so

The drawn categories come from hand-made stroke skeletons (benchmarks/skeletons.py), several
styles per digit, bent by a smooth random displacement, slanted, rotated, stretched, and
rendered with an anti-aliased round pen.
Everything is deterministic in ``--seed``: image i of a category is drawn from
``np.random.default_rng([seed, category, i])``.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from benchmarks.skeletons import SKELETONS, Stroke

# ------------------------------------------------------------------ drawing one image


@dataclass(frozen=True)
class Category:
    """How one category draws its digits; each range is (low, high), drawn uniformly."""

    name: str
    height: tuple[float, float] = (60, 110)  # digit height, pixels
    page: tuple[float, float] = (1.3, 1.8)  # picture height, x digit height; width x 0.75-1.33
    pen: tuple[float, float] = (0.06, 0.11)  # pen width, x the digit's height
    slant: tuple[float, float] = (-0.3, 0.35)  # shear: x moves by slant * (0.5 - y)
    rotate: float = 8.0  # rotation, degrees, uniform in [-rotate, rotate]
    width: tuple[float, float] = (0.8, 1.15)  # horizontal stretch
    wobble: float = 0.03  # amplitude of the smooth random displacement, x the height
    blur: tuple[float, float] = (0.0, 0.0)  # Gaussian blur, x the digit's height
    paper: tuple[float, float] = (0.97, 1.0)  # paper brightness
    ink: tuple[float, float] = (0.0, 0.15)  # ink brightness
    light: float = 0.0  # lighting gradient: brightness varies by up to this across the picture
    noise: float = 0.0  # std of Gaussian pixel noise
    jpeg: bool = False  # save as JPEG (quality 60-90) instead of PNG
    offset: bool = False  # the digit anywhere on the page, not near the middle


PHOTO = dict(
    height=(80, 160),
    page=(1.6, 2.6),
    pen=(0.05, 0.1),
    blur=(0.005, 0.02),
    paper=(0.5, 0.78),
    ink=(0.05, 0.3),
    light=0.06,
    noise=0.015,
    jpeg=True,
    offset=True,
)
CATEGORIES = (
    Category("pen"),
    Category("thick marker", pen=(0.18, 0.26), height=(60, 120)),
    Category("thin pen", pen=(0.012, 0.025), height=(150, 260)),
    Category("slanted", slant=(-0.7, 0.8), rotate=20, width=(0.6, 1.3)),
    Category("small, off-centre", height=(22, 40), page=(3.0, 6.0), noise=0.02, offset=True),
    Category("blurry", blur=(0.04, 0.09), pen=(0.07, 0.12)),
    Category("low resolution", height=(8, 14), page=(1.2, 1.6), pen=(0.1, 0.16)),
    Category("grey paper photo", **PHOTO),
    Category("uneven light photo", **{**PHOTO, "light": 0.3}),
    Category("light on dark", paper=(0.0, 0.2), ink=(0.85, 1.0)),
)
UCI = "uci 8x8 (43 writers)"
SUPERSAMPLE = 4  # pixels per side rendered per output pixel for the smallest digits


def smooth_wobble(rng: np.random.Generator, amplitude: float) -> Callable[[np.ndarray], np.ndarray]:
    """A random smooth displacement of the unit box: three sinusoids per axis."""
    freq = rng.uniform(0.5, 2.0, (2, 3, 2)) * 2 * np.pi  # (axis, wave, x/y)
    phase = rng.uniform(0, 2 * np.pi, (2, 3))
    amp = rng.normal(0, amplitude / np.sqrt(3), (2, 3))

    def move(p: np.ndarray) -> np.ndarray:  # (M, 2) -> (M, 2)
        waves = np.sin(np.einsum("awk,mk->amw", freq, p) + phase[:, None, :])  # (2, M, 3)
        return p + np.einsum("amw,aw->ma", waves, amp)

    return move


def place_strokes(strokes: list[Stroke], cat: Category, rng: np.random.Generator) -> list[Stroke]:
    """The skeleton bent, stretched, slanted and rotated, in units of the digit's height,
    centred on (0, 0): list of (M, 2) strokes."""
    move = smooth_wobble(rng, cat.wobble)
    stretch, slant = rng.uniform(*cat.width), rng.uniform(*cat.slant)
    angle = np.radians(rng.uniform(-cat.rotate, cat.rotate))
    rot = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    out = []
    for s in strokes:
        p = move(s + rng.normal(0, 0.01, 2))  # each stroke a little off where it should join
        x, y = (p[:, 0] - 0.5) * stretch, p[:, 1] - 0.5
        x = x - slant * y  # top (y < 0) to the right for slant > 0
        out.append(np.stack([x, y], axis=1) @ rot.T)
    return out


def render(strokes: list[Stroke], shape: tuple[int, int], pen: float) -> np.ndarray:
    """Ink coverage in [0, 1], (H, W), of a round pen of width ``pen`` pixels along the strokes
    (pixel coordinates): 1 within pen/2 of a segment, falling to 0 over one pixel. Only the
    strokes' bounding box is computed; the rest of the page is empty."""
    h, w = shape
    a = np.concatenate([s[:-1] for s in strokes])  # (S, 2) segment starts
    b = np.concatenate([s[1:] for s in strokes])  # (S, 2) segment ends
    ab = b - a
    length2 = np.maximum((ab**2).sum(1), 1e-12)  # (S,)
    lo = np.maximum(np.floor(np.minimum(a, b).min(0) - pen / 2 - 1), 0).astype(int)  # (x, y)
    hi = np.minimum(np.ceil(np.maximum(a, b).max(0) + pen / 2 + 1), [w, h]).astype(int)
    cov = np.zeros((h, w), np.float32)
    xs = np.arange(lo[0], hi[0]) + 0.5
    for top in range(lo[1], hi[1], 16):  # 16 rows at a time bounds the (rows, W, S) temporaries
        ys = np.arange(top, min(hi[1], top + 16)) + 0.5
        px, py = np.meshgrid(xs, ys)  # (r, w)
        ap_x, ap_y = px[..., None] - a[:, 0], py[..., None] - a[:, 1]  # (r, w, S)
        t = np.clip((ap_x * ab[:, 0] + ap_y * ab[:, 1]) / length2, 0, 1)
        dist = np.sqrt((ap_x - t * ab[:, 0]) ** 2 + (ap_y - t * ab[:, 1]) ** 2).min(-1)
        cov[top : top + len(ys), lo[0] : hi[0]] = np.clip(pen / 2 - dist + 0.5, 0, 1)
    return cov


def blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur, sigma in pixels, edges extended."""
    if sigma < 0.3:
        return img
    r = int(3 * sigma) + 1
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    pad = np.pad(img, r, mode="edge")
    rows = np.apply_along_axis(lambda v: np.convolve(v, k, "valid"), 1, pad)
    return np.apply_along_axis(lambda v: np.convolve(v, k, "valid"), 0, rows).astype(np.float32)


def draw(digit: int, style: str, cat: Category, rng: np.random.Generator) -> np.ndarray:
    """One picture, grayscale (H, W) in [0, 1], of ``digit`` in ``style`` as ``cat`` draws it."""
    height = rng.uniform(*cat.height)
    ss = SUPERSAMPLE if height < 40 else 1  # small digits: render finer, then average
    strokes = place_strokes(SKELETONS[digit][style], cat, rng)
    pen = rng.uniform(*cat.pen) * height
    pts = np.concatenate(strokes) * height
    lo, hi = pts.min(0) - pen, pts.max(0) + pen  # the digit's extent with its ink, pixels
    h = rng.uniform(*cat.page) * height
    size = np.maximum([h * rng.uniform(0.75, 1.33), h], hi - lo + 2)  # (W, H) of the picture
    w, h = (int(round(v)) for v in size)
    free = np.array([w, h]) - (hi - lo)  # room left around the digit, (x, y)
    where = rng.uniform(0, 1, 2) if cat.offset else rng.uniform(0.35, 0.65, 2)
    origin = free * where - lo  # pixel position of the skeleton's (0, 0)
    cov = render([(s * height + origin) * ss for s in strokes], (h * ss, w * ss), pen * ss)
    if ss > 1:
        cov = cov.reshape(h, ss, w, ss).mean(axis=(1, 3))
    cov = blur(cov, rng.uniform(*cat.blur) * height)
    paper, ink = rng.uniform(*cat.paper), rng.uniform(*cat.ink)
    img = paper + (ink - paper) * cov
    if cat.light:  # a lighting gradient across the picture, in a random direction
        direction = rng.normal(size=2)
        yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
        ramp = (xx * direction[0] + yy * direction[1]) / np.abs(direction).sum()
        img = img * (1 + cat.light * (ramp - ramp.mean()))
    img = img + rng.normal(0, cat.noise, img.shape) if cat.noise else img
    return np.clip(img, 0, 1).astype(np.float32)


def uci_digit(image8: np.ndarray) -> np.ndarray:
    """One 8x8 UCI digit (0-16, ink high) as a 32x32 low-resolution photo: dark ink on white,
    enlarged bilinearly with a white border."""
    from PIL import Image

    gray = 1.0 - image8 / 16.0
    page = np.ones((12, 12))
    page[2:10, 2:10] = gray
    big = Image.fromarray(np.uint8(np.round(page * 255))).resize(
        (48, 48), Image.Resampling.BILINEAR
    )
    return np.asarray(big, np.float32) / 255.0


def uci_digits() -> tuple[np.ndarray, np.ndarray] | None:
    """scikit-learn's bundled UCI digits as (N, 8, 8) float, (N,) labels; None without it."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        return None
    d = load_digits()
    return d.images, d.target.astype(np.int32)


# ------------------------------------------------------------------ the set, as files


@dataclass(frozen=True)
class Sample:
    category: str
    style: str  # e.g. "7 bar"; "" for the UCI digits
    label: int
    data: bytes  # the encoded file, PNG or JPEG


def encode(gray: np.ndarray, jpeg: bool, quality: int = 90) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    im = Image.fromarray(np.uint8(np.round(gray * 255)))
    im.save(buf, format="JPEG", quality=quality) if jpeg else im.save(buf, format="PNG")
    return buf.getvalue()


def generate(per_class: int = 40, seed: int = 0, uci: bool = True) -> Iterator[Sample]:
    """The whole set: ``per_class`` drawings of each digit in each drawn category (its styles in
    turn), then the UCI digits when ``uci`` and scikit-learn is importable. Deterministic."""
    for c, cat in enumerate(CATEGORIES):
        for i in range(10 * per_class):
            digit = i % 10
            styles = list(SKELETONS[digit])
            style = styles[(i // 10) % len(styles)]
            rng = np.random.default_rng([seed, c, i])
            gray = draw(digit, style, cat, rng)
            quality = int(rng.integers(60, 91))
            yield Sample(cat.name, f"{digit} {style}", digit, encode(gray, cat.jpeg, quality))
    found = uci_digits() if uci else None
    if found is not None:
        for image8, label in zip(*found, strict=True):
            yield Sample(UCI, "", int(label), encode(uci_digit(image8), jpeg=False))
