"""Test-time views (data/views.py): a shift is an exact whole-pixel translation that brings in
the background, and the mirror reverses the columns; each view's ``transpose()`` is its adjoint,
<A x, g> = <x, A^T g>, which carries a saliency map back through it."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from data.views import TEST_VIEWS, Mirror, Shift, mirror
from tests.images import images, shapes, shifted


@given(shapes, st.integers(-3, 3), st.integers(-3, 3))
def test_test_time_shift_is_an_integer_translation_filled_with_zero(shape, dy, dx):
    x = images(shape)
    np.testing.assert_array_equal(np.asarray(Shift(dy, dx)(x)), shifted(x, dy, dx, 0.0))


@given(shapes)
def test_test_time_mirror_reverses_the_columns_and_twice_is_the_identity(shape):
    x = images(shape)
    np.testing.assert_array_equal(np.asarray(mirror(x)), np.asarray(x)[:, :, ::-1, :])
    np.testing.assert_array_equal(np.asarray(mirror(mirror(x))), np.asarray(x))
    assert set(TEST_VIEWS) == {"none", "flip", "shifts"} and TEST_VIEWS["none"] == ()


@given(shapes, st.integers(-3, 3), st.integers(-3, 3), st.integers(0, 2**32 - 1))
def test_a_views_transpose_is_its_adjoint(shape, dy, dx, seed):
    rng = np.random.default_rng(seed)
    x, g = (rng.normal(size=shape).astype(np.float32) for _ in range(2))
    for view in (Shift(dy, dx), Mirror(), *(v for vs in TEST_VIEWS.values() for v in vs)):
        lhs = np.sum(np.asarray(view(x), np.float64) * g)  # the same float32 products, summed
        rhs = np.sum(x * np.asarray(view.transpose()(g), np.float64))  # in float64
        np.testing.assert_allclose(lhs, rhs, rtol=1e-12, atol=1e-12 * np.abs(x * g).sum())
