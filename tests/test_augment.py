"""Augmentation (data/augment.py, warp.py, pixels.py, views.py): exact geometry (identity,
integer shifts, right-angle rotations), the range that bilinear sampling keeps, determinism in
the key, jit, the command-line format, and the figure of augmented images."""

import math
from dataclasses import fields

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import data.augment
from data.augment import PRESETS, Augment, augment, describe, make_augment, parse_augment
from data.pixels import gaussian_blur, stroke_width
from data.warp import warp_affine
from tests.images import images, shapes, shifted

EVERYTHING = Augment(
    rotate=15,
    shift=3,
    scale=0.2,
    shear=15,
    elastic=30,
    thickness=1.5,
    blur=1.0,
    flip=0.5,
    erase=0.5,
)
CONFIGS = {**PRESETS, "everything": EVERYTHING}
del CONFIGS["none"]

WARP = jax.jit(warp_affine)  # compiled once per shape, not operation by operation
AUGMENT = jax.jit(augment, static_argnums=2)  # once per (shape, config)


def warp(x, angle=0.0, shear=0.0, zoom=1.0, shift=(0.0, 0.0), fill=0.0):
    n = x.shape[0]
    full = lambda v: jnp.full((n,), v, jnp.float32)  # noqa: E731
    shifts = jnp.asarray([shift] * n, jnp.float32)
    return WARP(x, angle=full(angle), shear=full(shear), zoom=full(zoom), shift=shifts, fill=fill)


# ---------------------------------------------------------------- exact geometry


def test_no_augmentation_returns_the_input_itself_and_no_hook():
    x = images((2, 5, 5, 1))
    assert augment(jax.random.key(0), x, Augment()) is x
    assert augment(jax.random.key(0), x, parse_augment("none")) is x
    assert make_augment(Augment()) is None


@given(shapes, st.floats(-2, 2, width=32, allow_subnormal=False))
def test_identity_warp_returns_the_input_exactly(shape, fill):
    x = images(shape)
    np.testing.assert_array_equal(np.asarray(warp(x, fill=fill)), np.asarray(x))


@given(
    shapes,
    st.integers(-5, 5),
    st.integers(-5, 5),
    st.floats(-1, 1, width=32, allow_subnormal=False),
)
def test_integer_translation_equals_a_shift_filled_with_the_background(shape, dy, dx, fill):
    x = images(shape)
    out = warp(x, shift=(dx, dy), fill=fill)  # shift is (tx, ty)
    np.testing.assert_array_equal(np.asarray(out), shifted(x, dy, dx, np.float32(fill)))


@given(st.integers(1, 3), st.integers(3, 9), st.integers(1, 2), st.sampled_from([1, 2, 3, -1]))
def test_rotation_by_right_angles_is_transpose_and_flip(n, size, c, quarter_turns):
    x = images((n, size, size, c))
    out = np.asarray(warp(x, angle=quarter_turns * math.pi / 2))
    expected = np.rot90(np.asarray(x), quarter_turns, axes=(1, 2))  # counter-clockwise
    np.testing.assert_array_equal(out, expected)
    if quarter_turns == 1:  # rot90 spelled out: transpose, then flip upside down
        np.testing.assert_array_equal(out, np.asarray(x).transpose(0, 2, 1, 3)[:, ::-1])


def test_positive_shear_slants_the_top_to_the_right():
    x = np.zeros((1, 9, 9, 1), np.float32)
    x[0, :, 4] = 1.0  # a vertical bar
    out = np.asarray(warp(jnp.asarray(x), shear=math.radians(20)))[0, :, :, 0]
    col_of = lambda row: (out[row] * np.arange(9)).sum() / out[row].sum()  # noqa: E731
    assert col_of(0) > 4.5 > 3.5 > col_of(8)
    assert abs(col_of(4) - 4) < 1e-6  # the centre row stays


def test_full_flip_mirrors_every_image():
    x = images((3, 5, 6, 2))
    out = augment(jax.random.key(1), x, Augment(flip=1.0))
    np.testing.assert_array_equal(np.asarray(out), np.asarray(x)[:, :, ::-1])


def test_erasing_sets_one_rectangle_of_the_allowed_size_to_the_background():
    x = jnp.ones((16, 20, 20, 1), jnp.float32)
    out = np.asarray(augment(jax.random.key(2), x, Augment(erase=1.0, erase_area=0.3, fill=-0.5)))
    for img in out[..., 0]:
        rows, cols = np.flatnonzero((img == -0.5).any(1)), np.flatnonzero((img == -0.5).any(0))
        box = img[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        assert np.all(box == -0.5) and np.all(np.isin(img, [1.0, -0.5]))  # one solid rectangle
        assert 0.02 * 400 * 0.5 <= box.size <= 0.3 * 400 * 1.5  # area, up to rounding of sides


def test_stroke_width_dilates_erodes_and_leaves_zero_amount_exact():
    x = np.zeros((3, 7, 7, 1), np.float32)
    x[:, 3, 3] = 1.0  # one bright pixel
    out = np.asarray(
        stroke_width(jnp.asarray(x), jnp.asarray([1.0, -1.0, 0.0], jnp.float32), 1.0, 0.0)
    )
    plus = np.zeros((7, 7), np.float32)
    plus[3, 2:5] = plus[2:5, 3] = 1.0
    np.testing.assert_array_equal(out[0, :, :, 0], plus)  # one dilation step: a plus sign
    np.testing.assert_array_equal(out[1], 0.0)  # one erosion removes a lone pixel
    np.testing.assert_array_equal(out[2], x[2])


def test_blur_of_zero_is_exact_and_blur_keeps_a_constant_image_constant():
    x = images((2, 6, 7, 2))
    np.testing.assert_array_equal(np.asarray(gaussian_blur(x, jnp.zeros(2, jnp.float32))), x)
    flat = jnp.full((2, 6, 7, 2), 0.3, jnp.float32)
    np.testing.assert_allclose(gaussian_blur(flat, jnp.asarray([0.5, 2.0], jnp.float32)), 0.3, 1e-6)


# ---------------------------------------------------------------- the random transforms


@pytest.mark.parametrize("name", list(CONFIGS))
def test_output_keeps_shape_and_dtype(name):
    x = images((8, 28, 28, 1))
    out = AUGMENT(jax.random.key(0), x, CONFIGS[name])
    assert out.shape == x.shape and out.dtype == jnp.float32


@given(
    st.sampled_from([(2, 5, 7, 1), (3, 12, 12, 2)]),
    st.integers(0, 2**31 - 1),
    st.sampled_from([0.0, -0.5, 1.5]),
)
def test_outputs_stay_within_the_range_of_input_and_background(shape, seed, fill):
    x = images(shape, seed % 7)
    cfg = Augment(**{**EVERYTHING.to_dict(), "fill": fill})
    out = np.asarray(AUGMENT(jax.random.key(seed), x, cfg))
    lo, hi = min(float(x.min()), fill), max(float(x.max()), fill)
    assert np.isfinite(out).all()
    assert lo - 1e-6 <= out.min() and out.max() <= hi + 1e-6


@pytest.mark.parametrize("name", list(CONFIGS))
def test_same_key_gives_the_same_batch_and_different_keys_differ(name):
    x = images((8, 28, 28, 1))
    a = AUGMENT(jax.random.key(3), x, CONFIGS[name])
    b = AUGMENT(jax.random.key(3), x, CONFIGS[name])
    c = AUGMENT(jax.random.key(4), x, CONFIGS[name])
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(c))


@pytest.mark.parametrize("name", list(CONFIGS))
def test_jit_equals_no_jit(name):
    x = images((8, 28, 28, 1))
    eager = np.asarray(augment(jax.random.key(5), x, CONFIGS[name]))
    jitted = np.asarray(AUGMENT(jax.random.key(5), x, CONFIGS[name]))
    np.testing.assert_allclose(jitted, eager, rtol=0, atol=1e-5)


def test_switching_a_transform_off_keeps_the_draws_of_the_others():
    x = images((6, 12, 12, 1))
    shift_only = augment(jax.random.key(6), x, Augment(shift=2))
    with_flip_off = augment(jax.random.key(6), x, Augment(shift=2, flip=0.0, erase=0.0))
    np.testing.assert_array_equal(np.asarray(shift_only), np.asarray(with_flip_off))
    both = augment(jax.random.key(6), x, Augment(shift=2, flip=1.0))
    np.testing.assert_array_equal(np.asarray(both), np.asarray(shift_only)[:, :, ::-1])


# ---------------------------------------------------------------- command line


def test_parse_reads_presets_pairs_and_overrides():
    assert parse_augment("mnist") == PRESETS["mnist"]
    assert parse_augment(" rotate=12, shift=2 ,scale=0.1,elastic=0") == Augment(
        rotate=12, shift=2, scale=0.1
    )
    assert parse_augment("fashion,erase=0.5") == Augment(flip=0.5, erase=0.5)
    assert parse_augment("rotate=10") == Augment(rotate=10.0)  # ints and floats: one config


@pytest.mark.parametrize("cfg", [*PRESETS.values(), EVERYTHING, Augment(fill=-0.42, rotate=1.5)])
def test_describe_round_trips_through_parse(cfg):
    text = describe(cfg)
    assert parse_augment(text) == cfg
    assert set(cfg.to_dict()) == {f.name for f in fields(Augment)}
    assert all(type(v) is float for v in cfg.to_dict().values())  # JSON-ready
    hash(cfg)  # static under jit


@pytest.mark.parametrize(
    "text, needles",
    [
        ("mnsit", ["'mnsit'", "none, mnist, fashion"]),
        ("rotate=abc", ["'rotate=abc'", "not a number"]),
        ("rotat=3", ["'rotat=3'", "rotate, shift, scale"]),
        ("mnist,fashion", ["'fashion'", "only comes first"]),
        ("flip=2", ["flip=2.0", "[0, 1]"]),
        ("scale=1", ["scale=1.0", "< 1"]),
        ("shift=-1", ["shift=-1.0", ">= 0"]),
        ("rotate=nan", ["rotate=nan", "finite"]),
        ("", ["none, mnist, fashion"]),
    ],
)
def test_bad_values_raise_one_line_errors_naming_the_part_and_the_choices(text, needles):
    with pytest.raises(ValueError) as err:
        parse_augment(text)
    message = str(err.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message


# ---------------------------------------------------------------- the figure


def test_augmented_grid_is_a_real_png(tmp_path):
    pytest.importorskip("matplotlib")
    from experiments.augmented import save_augmented_grid
    from tests.cli import assert_real_image

    x = np.zeros((3, 28, 28, 1), np.float32)
    x[:, 6:22, 12:16] = 1.0
    draws = np.stack(
        [np.asarray(augment(jax.random.key(i), jnp.asarray(x), PRESETS["mnist"])) for i in range(4)]
    )
    path = save_augmented_grid(tmp_path / "augmented.png", x, draws)
    assert path == tmp_path / "augmented.png"
    assert_real_image(path)
    assert [p.name for p in tmp_path.iterdir()] == ["augmented.png"]  # no temporary left


@pytest.mark.parametrize("shape", [(1, 2, 3, 3), (64, 2, 28, 28)])
def test_uniform_bytes_are_256_even_levels_inside_minus_one_one(shape):
    u = np.asarray(data.augment.uniform_bytes(jax.random.key(3), shape))
    assert u.shape == shape and u.dtype == np.float32 and np.all(np.abs(u) < 1)
    np.testing.assert_allclose((u + 1) * 128 - 0.5, np.round((u + 1) * 128 - 0.5), atol=1e-4)
    if u.size > 10_000:  # the mean and variance of the uniform distribution on [-1, 1]
        assert abs(u.mean()) < 0.02 and abs(u.var() - 1 / 3) < 0.02
        assert len(np.unique(u)) == 256
