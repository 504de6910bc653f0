"""Test-time views (data/views.py): a shift is an exact whole-pixel translation that brings in
the background, and the mirror reverses the columns."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from data.views import TEST_VIEWS, mirror
from data.views import shifted as shifted_view
from tests.images import images, shapes, shifted


@given(shapes, st.integers(-3, 3), st.integers(-3, 3))
def test_test_time_shift_is_an_integer_translation_filled_with_zero(shape, dy, dx):
    x = images(shape)
    np.testing.assert_array_equal(np.asarray(shifted_view(dy, dx)(x)), shifted(x, dy, dx, 0.0))


@given(shapes)
def test_test_time_mirror_reverses_the_columns_and_twice_is_the_identity(shape):
    x = images(shape)
    np.testing.assert_array_equal(np.asarray(mirror(x)), np.asarray(x)[:, :, ::-1, :])
    np.testing.assert_array_equal(np.asarray(mirror(mirror(x))), np.asarray(x))
    assert set(TEST_VIEWS) == {"none", "flip", "shifts"} and TEST_VIEWS["none"] == ()
