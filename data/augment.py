"""Data augmentation on the device: random affine warps, elastic distortions, stroke thickness,
blur, horizontal flips and random erasing of a batch of images, as one jittable function.

    from data.augment import augment, make_augment, parse_augment
    cfg = parse_augment("mnist")              # or "rotate=12,shift=2,elastic=0", "fashion,erase=0"
    fn = make_augment(cfg)                    # the train step's hook fn(key, x) -> x (None: off)
    x_aug = jax.jit(fn)(key, x)               # x: (N, H, W, C) float32

``Augment`` is a frozen, hashable dataclass: under ``jax.jit`` it is static (close over it, as
``fn`` does, or mark it with ``static_argnums``). ``Augment()`` (the preset "none") is an exact
no-op: ``augment`` returns ``x`` itself and traces no operation. Every random draw comes from
``key``: the same key gives the same batch, so a run that takes its key from the
train state resumes bit-identically. No Python loop runs over images: every transform is written
on the whole batch (batched gathers, einsums and masks). ``describe(cfg)`` is the canonical
command-line string (``parse_augment(describe(cfg)) == cfg``); ``cfg.to_dict()`` goes into
metrics.json.

Shapes: N images, H x W pixels, C channels. Images are as data.load makes them: float32 in
[0, 1], background 0 (ink is light on black); ``fill`` is that background, the value of every
pixel a transform brings in from outside the image. For standardised images pass
``fill=-mean/std``.

The order is fixed: thickness, then one resampling for the affine warp and the elastic field
together, then blur, flip and erasing.

Geometry: the inverse mapping. A warp cannot push input pixels forward (they would land between
output pixels and leave holes); instead every output pixel asks where it comes from. With
coordinates measured from the image centre, x = col - (W-1)/2 to the right and y = row - (H-1)/2
downwards, the forward map of input point p to output point q is

    q = R(a) S(s) Z(z) p + t          R(a) = [[cos a, sin a], [-sin a, cos a]]   rotation by a,
                                               counter-clockwise as displayed (y points down)
                                      S(s) = [[1, -tan s], [0, 1]]   shear: slant by s, the top
                                               of the image to the right for s > 0
                                      Z(z) = z I    zoom, t = (tx, ty) translation in pixels

so each output pixel q reads the input at

    p = Z(1/z) S(-s) R(-a) (q - t) + d(q)

(the inverses in reverse order: S(s)^-1 = S(-s) because tan(-s) = -tan s), plus the elastic
displacement d(q) (below). a = 90 degrees maps output (row i, col j) to input (j, W-1-i): exactly
np.rot90. p is rarely a pixel centre; bilinear interpolation reads it from its four neighbours:
with r0 = floor(p_row), c0 = floor(p_col), fr = p_row - r0, fc = p_col - c0,

    out = (1-fr)(1-fc) x[r0, c0]   + (1-fr) fc x[r0, c0+1]
        + fr (1-fc) x[r0+1, c0]    + fr fc x[r0+1, c0+1]

where a neighbour outside the image reads ``fill``. The four weights are >= 0 and sum to 1, so
every output lies between the smallest and largest of the input and ``fill``. At a pixel centre
(fr = fc = 0) the weights are (1, 0, 0, 0): the identity and integer shifts copy pixels exactly.
Coordinates within 1e-4 pixel of a centre are snapped to it, so that the float32 rounding of
cos 90 degrees (4e-8, not 0) does not blend right-angle rotations by a ten-millionth.

Elastic distortion (Simard, Steinkraus and Platt, 2003): draw a displacement per pixel and axis,
uniform in [-1, 1], smooth each field with a Gaussian of std ``elastic_sigma`` pixels and
multiply by ``elastic`` (their alpha; they used alpha 34, sigma 4 on MNIST). The Gaussian is
separable, so smoothing is G U G^T with G (H, H) holding g(i - k) = exp(-(i-k)^2 / 2 sigma^2) /
(sqrt(2 pi) sigma): outside the image the noise counts as 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace

import jax
import jax.numpy as jnp

Array = jax.Array
SNAP = 1e-4  # pixels: coordinates this close to a pixel centre are read from that centre


@dataclass(frozen=True)
class Augment:
    """What to draw for every image; each default switches its transform off."""

    rotate: float = 0.0  # rotation angle, degrees, uniform in [-rotate, rotate]
    shift: float = 0.0  # translation, pixels, each axis uniform in [-shift, shift]
    scale: float = 0.0  # zoom factor uniform in [1 - scale, 1 + scale] (0 <= scale < 1)
    shear: float = 0.0  # slant angle, degrees, uniform in [-shear, shear] (top moves right)
    elastic: float = 0.0  # Simard's alpha: displacement scale, pixels (0: no elastic field)
    elastic_sigma: float = 4.0  # std of the Gaussian that smooths the elastic field, pixels
    thickness: float = 0.0  # stroke width change, uniform in [-thickness, thickness] steps of
    #                         one-pixel grey dilation (> 0, thicker) or erosion (< 0, thinner)
    blur: float = 0.0  # std of a Gaussian blur, pixels, uniform in [0, blur]
    flip: float = 0.0  # probability of a horizontal (left-right) flip
    erase: float = 0.0  # probability of erasing one rectangle (Cutout / random erasing)
    erase_area: float = 0.25  # the rectangle covers uniform [0.02, erase_area] of the image
    fill: float = 0.0  # the background: read outside the image, written into erased rectangles

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"augmentation {f.name}={value!r}: must be a finite number")
            object.__setattr__(self, f.name, float(value))  # 10 and 10.0: one config
            if f.name != "fill" and value < 0:
                raise ValueError(f"augmentation {f.name}={value!r}: must be >= 0")
        if self.scale >= 1:
            raise ValueError(f"augmentation scale={self.scale!r}: must be < 1")
        if self.elastic_sigma <= 0:
            raise ValueError(f"augmentation elastic_sigma={self.elastic_sigma!r}: must be > 0")
        for name in ("flip", "erase"):
            if getattr(self, name) > 1:
                raise ValueError(f"augmentation {name}={getattr(self, name)!r}: must be in [0, 1]")
        if not 0.02 <= self.erase_area <= 1:
            raise ValueError(f"augmentation erase_area={self.erase_area!r}: must be in [0.02, 1]")

    @property
    def warps(self) -> bool:
        """Whether any geometric transform is on (one resampling does them all)."""
        return any((self.rotate, self.shift, self.scale, self.shear, self.elastic))

    @property
    def active(self) -> bool:
        return self.warps or any((self.thickness, self.blur, self.flip, self.erase))

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


PRESETS: dict[str, Augment] = {
    "none": Augment(),
    # handwriting: the slants, sizes and positions of other writers, mild elastic wobble,
    # thinner and thicker pens
    "mnist": Augment(rotate=10, shift=2, scale=0.1, shear=12, elastic=20, thickness=0.6),
    # clothing: mirror images are the same class; occlusion; small offsets
    "fashion": Augment(shift=2, flip=0.5, erase=0.5),
}


# Test-time augmentation: fixed views of a test batch whose predictions are averaged with the
# image's own (nn/evaluate.py, make_eval_step's ``views``). Each is exact: a mirror image, or a
# shift by a whole pixel that brings in background (0, as data.load makes it; standardised
# images would need -mean/std) at the edge.


def mirror(x: Array) -> Array:
    """(N, H, W, C) -> the left-right mirror images."""
    return x[:, :, ::-1, :]


def shifted(dy: int, dx: int) -> Callable[[Array], Array]:
    """A view that moves every image dy pixels down and dx to the right, filling with 0."""

    def shift(x: Array) -> Array:
        h, w = x.shape[1], x.shape[2]
        pad = ((0, 0), (max(dy, 0), max(-dy, 0)), (max(dx, 0), max(-dx, 0)), (0, 0))
        top, left = max(-dy, 0), max(-dx, 0)
        return jnp.pad(x, pad)[:, top : top + h, left : left + w, :]

    return shift


TEST_VIEWS: dict[str, tuple[Callable[[Array], Array], ...]] = {
    "none": (),
    "flip": (mirror,),  # clothing: a mirrored garment is the same garment
    "shifts": (shifted(1, 0), shifted(-1, 0), shifted(0, 1), shifted(0, -1)),  # one pixel
}


def describe(cfg: Augment) -> str:
    """The canonical command-line form: a preset's name, or key=value for every non-default."""
    for name, preset in PRESETS.items():
        if cfg == preset:
            return name
    default = Augment()
    return ",".join(
        f"{f.name}={getattr(cfg, f.name):g}"
        for f in fields(cfg)
        if getattr(cfg, f.name) != getattr(default, f.name)
    )


def parse_augment(text: str) -> Augment:
    """A command-line value: a preset name ("none", "mnist", "fashion"), key=value pairs
    ("rotate=12,shift=2,elastic=0"), or a preset followed by overrides ("mnist,elastic=0").
    Raises ValueError with a one-line message naming the bad part and the valid choices."""
    keys = [f.name for f in fields(Augment)]
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise ValueError(f"empty augmentation: choose one of {', '.join(PRESETS)} or key=value")
    cfg, values = PRESETS["none"], {}
    if "=" not in parts[0]:
        if parts[0] not in PRESETS:
            raise ValueError(
                f"unknown augmentation preset {parts[0]!r}: choose one of {', '.join(PRESETS)}, "
                f"or key=value pairs with keys {', '.join(keys)}"
            )
        cfg, parts = PRESETS[parts[0]], parts[1:]
    for part in parts:
        key, sep, value = (s.strip() for s in part.partition("="))
        if not sep or key not in keys:
            raise ValueError(
                f"bad augmentation part {part!r}: expected key=value with keys {', '.join(keys)}"
                + ("" if sep else f" (a preset, one of {', '.join(PRESETS)}, only comes first)")
            )
        try:
            values[key] = float(value)
        except ValueError:
            raise ValueError(f"bad augmentation part {part!r}: {value!r} is not a number") from None
    return replace(cfg, **values)


# Every per-image number is one column of a single uniform draw, (N, DRAWS), widened by the
# 2 H W noise values of the elastic field when it is on: one random-number generator in the
# compiled step instead of one per transform (each costs about a second of compile time on the
# 2-core CPU). Switching a transform on or off leaves the draws of the others unchanged, except
# elastic: it widens the draw, which changes every number in it.
ANGLE, SHEAR, ZOOM, SHIFT_X, SHIFT_Y, THICKNESS, BLUR, FLIP, ERASE = range(9)  # ERASE: 5 columns
DRAWS = ERASE + 5


def augment(key: Array, x: Array, cfg: Augment) -> Array:
    """(N, H, W, C) -> (N, H, W, C), every image transformed with its own draws from ``key``.
    With nothing switched on, returns ``x`` itself."""
    if not cfg.active:
        return x
    n, h, w, _ = x.shape
    noise = 2 * h * w if cfg.elastic else 0
    u = jax.random.uniform(key, (n, DRAWS + noise), jnp.float32)  # (N, DRAWS [+ 2 H W])
    sym = lambda col, m: m * (2 * u[:, col] - 1)  # noqa: E731  (N,) uniform in [-m, m]
    if cfg.thickness:
        x = stroke_width(x, sym(THICKNESS, cfg.thickness), cfg.thickness, cfg.fill)
    if cfg.warps:
        matrix, offset = inverse_affine(
            angle=sym(ANGLE, math.radians(cfg.rotate)),
            shear=sym(SHEAR, math.radians(cfg.shear)),
            zoom=1 + sym(ZOOM, cfg.scale),
            shift=jnp.stack([sym(SHIFT_X, cfg.shift), sym(SHIFT_Y, cfg.shift)], axis=-1),
        )
        rows, cols = source_coordinates(matrix, offset, h, w)
        if cfg.elastic:
            field = 2 * u[:, DRAWS:].reshape(n, 2, h, w) - 1  # uniform in [-1, 1]
            dr, dc = elastic_field(field, cfg.elastic, cfg.elastic_sigma)
            rows, cols = rows + dr, cols + dc
        x = sample_bilinear(x, rows, cols, cfg.fill)
    if cfg.blur:
        x = gaussian_blur(x, cfg.blur * u[:, BLUR])
    if cfg.flip:
        flipped = (u[:, FLIP] < cfg.flip)[:, None, None, None]  # (N, 1, 1, 1)
        x = jnp.where(flipped, mirror(x), x)
    if cfg.erase:
        x = random_erase(x, u[:, ERASE:DRAWS], cfg.erase, cfg.erase_area, cfg.fill)
    return x


def make_augment(cfg: Augment) -> Callable[[Array, Array], Array] | None:
    """The train step's hook ``fn(key, x) -> x`` for ``cfg``, or None when it does nothing."""
    return (lambda key, x: augment(key, x, cfg)) if cfg.active else None


# ------------------------------------------------------------------------------ the geometry


def warp_affine(
    x: Array, *, angle: Array, shear: Array, zoom: Array, shift: Array, fill: float = 0.0
) -> Array:
    """x (N, H, W, C) rotated by angle (N,) radians, slanted by shear (N,) radians, zoomed by
    zoom (N,) and moved by shift (N, 2) = (tx, ty) pixels, about the image centre: the
    deterministic core of ``augment`` (whose elastic field adds to the same coordinates)."""
    matrix, offset = inverse_affine(angle=angle, shear=shear, zoom=zoom, shift=shift)
    rows, cols = source_coordinates(matrix, offset, x.shape[1], x.shape[2])
    return sample_bilinear(x, rows, cols, fill)


def inverse_affine(*, angle: Array, shear: Array, zoom: Array, shift: Array) -> tuple[Array, Array]:
    """Per image, the map from output to input point, p = M q + b (centred (x, y) coordinates):
    M = Z(1/z) S(-s) R(-a) and b = -M t (see the module docstring).
    angle, shear (N,) radians; zoom (N,); shift (N, 2) as (tx, ty) -> M (N, 2, 2), b (N, 2)."""
    cos, sin, tan = jnp.cos(angle), jnp.sin(angle), jnp.tan(shear)  # (N,)
    # R(-a) = [[cos, -sin], [sin, cos]];  S(-s) R(-a) = [[cos + tan sin, -sin + tan cos], R row 2]
    m = (
        jnp.stack(
            [
                jnp.stack([cos + tan * sin, -sin + tan * cos], axis=-1),
                jnp.stack([sin, cos], axis=-1),
            ],
            axis=-2,
        )
        / zoom[:, None, None]
    )  # (N, 2, 2)
    b = -jnp.einsum("nij,nj->ni", m, shift)  # (N, 2)
    return m, b


def source_coordinates(matrix: Array, offset: Array, h: int, w: int) -> tuple[Array, Array]:
    """For every output pixel, the input (row, col) it reads: M (N, 2, 2), b (N, 2) ->
    rows, cols (N, H, W), snapped to pixel centres within SNAP."""
    cy, cx = (h - 1) / 2, (w - 1) / 2
    ys, xs = jnp.meshgrid(
        jnp.arange(h, dtype=jnp.float32) - cy, jnp.arange(w, dtype=jnp.float32) - cx, indexing="ij"
    )  # (H, W) each
    q = jnp.stack([xs, ys])[None]  # (1, 2, H, W) as (x, y)
    p = jnp.einsum("nij,njhw->nihw", matrix, q) + offset[:, :, None, None]  # (N, 2, H, W)
    cols, rows = p[:, 0] + cx, p[:, 1] + cy
    snap = lambda v: jnp.where(jnp.abs(v - jnp.round(v)) < SNAP, jnp.round(v), v)  # noqa: E731
    return snap(rows), snap(cols)


def sample_bilinear(x: Array, rows: Array, cols: Array, fill: float) -> Array:
    """x (N, H, W, C) read at real (rows, cols) (N, H', W') -> (N, H', W', C); neighbours outside
    the image read ``fill``. Weights as derived in the module docstring."""
    h, w = x.shape[1:3]
    r0, c0 = jnp.floor(rows), jnp.floor(cols)
    fr, fc = (rows - r0)[..., None], (cols - c0)[..., None]  # (N, H', W', 1)
    r0, c0 = r0.astype(jnp.int32), c0.astype(jnp.int32)

    def corner(dr: int, dc: int) -> Array:  # x[r0 + dr, c0 + dc], or fill outside: (N, H', W', C)
        r, c = r0 + dr, c0 + dc
        inside = ((r >= 0) & (r < h) & (c >= 0) & (c < w))[..., None]
        read = jax.vmap(lambda img, i, j: img[i, j])(
            x, jnp.clip(r, 0, h - 1), jnp.clip(c, 0, w - 1)
        )
        return jnp.where(inside, read, jnp.asarray(fill, x.dtype))

    return (
        (1 - fr) * (1 - fc) * corner(0, 0)
        + (1 - fr) * fc * corner(0, 1)
        + fr * (1 - fc) * corner(1, 0)
        + fr * fc * corner(1, 1)
    )


def gaussian_matrix(size: int, sigma: Array, normalise_rows: bool) -> Array:
    """G (M, size, size) with G[m, i, k] = exp(-(i - k)^2 / 2 sigma_m^2) for sigma (M,): rows
    summing to 1 (a blur that keeps constant images constant) or scaled by 1/(sqrt(2 pi) sigma)."""
    i = jnp.arange(size, dtype=jnp.float32)
    d2 = ((i[:, None] - i[None, :]) ** 2)[None]  # (1, size, size)
    sigma = jnp.maximum(sigma, 1e-3)[:, None, None]  # (M, 1, 1); sigma -> 0: G -> identity
    g = jnp.exp(-d2 / (2 * sigma**2))  # (M, size, size)
    if normalise_rows:
        return g / g.sum(axis=-1, keepdims=True)
    return g / (math.sqrt(2 * math.pi) * sigma)


def elastic_field(noise: Array, alpha: float, sigma: float) -> tuple[Array, Array]:
    """Simard's displacement from noise (N, 2, H, W) uniform in [-1, 1]: alpha * G_H U G_W^T for
    each image and axis -> (rows, cols), each (N, H, W)."""
    h, w = noise.shape[2:]
    s = jnp.full((1,), sigma, jnp.float32)
    gh, gw = gaussian_matrix(h, s, False)[0], gaussian_matrix(w, s, False)[0]  # (H, H), (W, W)
    d = alpha * jnp.einsum("hk,nskl,wl->nshw", gh, noise, gw)  # (N, 2, H, W)
    return d[:, 0], d[:, 1]


# ------------------------------------------------------------------------ pixel-wise changes


def stroke_width(x: Array, amount: Array, steps: float, fill: float) -> Array:
    """Grey dilation (amount > 0) or erosion (< 0) of every image by |amount| (N,) steps, each
    step the max (min) over a pixel and its four neighbours; fractional amounts interpolate
    between whole steps. x (N, H, W, C) -> same."""
    k = math.ceil(steps)

    def step(y: Array, reduce: Callable) -> Array:  # one dilation (jnp.maximum) or erosion
        p = jnp.pad(y, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=fill)
        out = y
        for dr, dc in ((0, 1), (2, 1), (1, 0), (1, 2)):  # up, down, left, right neighbour
            out = reduce(out, p[:, dr : dr + y.shape[1], dc : dc + y.shape[2]])
        return out

    levels = [x]  # level j holds j steps: erosions at -1..-k, dilations at 1..k
    thick, thin = x, x
    for _ in range(k):
        thick, thin = step(thick, jnp.maximum), step(thin, jnp.minimum)
        levels = [thin, *levels, thick]
    stack = jnp.stack(levels)  # (2k + 1, N, H, W, C), level j at index j + k
    pos = jnp.clip(amount + k, 0, 2 * k)  # (N,)
    lo = jnp.clip(jnp.floor(pos), 0, 2 * k - 1)  # (N,) the whole steps below pos, as a level
    frac = (pos - lo)[:, None, None, None]  # (N, 1, 1, 1)
    lo = lo.astype(jnp.int32)
    pick = lambda j: jax.vmap(lambda s, i: s[i], in_axes=(1, 0))(stack, j)  # noqa: E731
    return (1 - frac) * pick(lo) + frac * pick(lo + 1)


def gaussian_blur(x: Array, sigma: Array) -> Array:
    """x (N, H, W, C) blurred with std sigma (N,) pixels: G_n x_n G_n^T with row-normalised G,
    so each output is a weighted mean of inputs; sigma 0 leaves the image unchanged."""
    gh = gaussian_matrix(x.shape[1], sigma, True)  # (N, H, H)
    gw = gaussian_matrix(x.shape[2], sigma, True)  # (N, W, W)
    return jnp.einsum("nhk,nklc,nwl->nhwc", gh, x, gw)


def random_erase(x: Array, u: Array, prob: float, max_area: float, fill: float) -> Array:
    """With probability ``prob`` per image, set one rectangle to ``fill``: its area uniform in
    [0.02, max_area] of the image, aspect ratio log-uniform in [1/3, 3], placed uniformly so
    that it fits (Zhong et al., 2017, with the background instead of noise). u (N, 5) holds
    uniform [0, 1) draws for (whether, area, ratio, top, left); x (N, H, W, C) -> same."""
    n, h, w, _ = x.shape
    on = u[:, 0] < prob  # (N,)
    area = (0.02 + (max_area - 0.02) * u[:, 1]) * (h * w)  # (N,) pixels
    ratio = jnp.exp(math.log(3) * (2 * u[:, 2] - 1))  # (N,) height / width
    eh = jnp.clip(jnp.round(jnp.sqrt(area * ratio)), 1, h)  # (N,) rectangle height
    ew = jnp.clip(jnp.round(jnp.sqrt(area / ratio)), 1, w)  # (N,) rectangle width
    top = jnp.floor(u[:, 3] * (h - eh + 1))  # (N,) in [0, H - eh]
    left = jnp.floor(u[:, 4] * (w - ew + 1))  # (N,) in [0, W - ew]
    r = jnp.arange(h, dtype=jnp.float32)[None, :, None]  # (1, H, 1)
    c = jnp.arange(w, dtype=jnp.float32)[None, None, :]  # (1, 1, W)
    col = lambda v: v[:, None, None]  # noqa: E731  (N,) -> (N, 1, 1)
    inside = (r >= col(top)) & (r < col(top + eh)) & (c >= col(left)) & (c < col(left + ew))
    erase = (inside & col(on))[..., None]  # (N, H, W, 1)
    return jnp.where(erase, jnp.asarray(fill, x.dtype), x)
