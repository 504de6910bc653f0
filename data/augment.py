"""Data augmentation on the device: random affine warps, elastic distortions, stroke thickness,
blur, horizontal flips and random erasing of a batch of images, as one jittable function.

    from data.augment import augment, make_augment, parse_augment
    cfg = parse_augment("mnist")            # or "rotate=12,shift=2,elastic=0", "fashion,erase=0.5"
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

The geometry (rotation, shift, zoom, shear, elastic field) is data/warp.py, the pixel-wise
changes (thickness, blur, erasing) data/pixels.py, the test-time views data/views.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace

import jax
import jax.numpy as jnp

from data.pixels import gaussian_blur, random_erase, stroke_width
from data.views import mirror
from data.warp import elastic_field, inverse_affine, sample_bilinear, source_coordinates

Array = jax.Array


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
    # clothing: mirror images are the same class. Not shifts: off the integer grid they resample
    # and blur the fabric's texture, and erasing costs the short default recipe too (median of 3
    # seeds of experiments.cnn: 89.10% with shift=2,flip=0.5,erase=0.5; 90.47% with flip and
    # erase; 90.84% with flip alone; BENCHMARKS.md, "The default recipe")
    "fashion": Augment(flip=0.5),
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


# Every per-image number is one column of a single uniform draw, (N, DRAWS): one random-number
# generator in the compiled step instead of one per transform (each costs about a second of
# compile time on the 2-core CPU). The elastic field's 2 H W noise values an image come from a
# key of their own, as bytes (``uniform_bytes``), so switching any transform on or off leaves
# the draws of the others unchanged.
ANGLE, SHEAR, ZOOM, SHIFT_X, SHIFT_Y, THICKNESS, BLUR, FLIP, ERASE = range(9)  # ERASE: 5 columns
DRAWS = ERASE + 5


def uniform_bytes(key: Array, shape: tuple[int, ...]) -> Array:
    """Noise uniform on [-1, 1] in 256 equal steps, four values from each random 32-bit word: a
    quarter of the generator's work of ``jax.random.uniform`` (whose 32-bit values cost about
    two thirds of the elastic augmentation of a batch on the CPU of BENCHMARKS.md). The field
    it feeds is a Gaussian average of about a hundred of them, for which 256 levels are many."""
    count = math.prod(shape)
    words = jax.random.bits(key, (-(-count // 4),), jnp.uint32)
    levels = jax.lax.bitcast_convert_type(words, jnp.uint8).reshape(-1)[:count]  # (4 words,)
    return ((levels.astype(jnp.float32) + 0.5) / 128 - 1).reshape(shape)


def augment(key: Array, x: Array, cfg: Augment) -> Array:
    """(N, H, W, C) -> (N, H, W, C), every image transformed with its own draws from ``key``.
    With nothing switched on, returns ``x`` itself."""
    if not cfg.active:
        return x
    n, h, w, _ = x.shape
    key, noise_key = jax.random.split(key)
    u = jax.random.uniform(key, (n, DRAWS), jnp.float32)  # (N, DRAWS)
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
            field = uniform_bytes(noise_key, (n, 2, h, w))  # uniform in [-1, 1]
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
