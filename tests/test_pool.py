"""MaxPool2D: forward against lax.reduce_window, backward against jax.vjp and finite
differences, and the routing identities of a max: the gradient lands only on window maxima,
sums to the upstream gradient, and ties go to the first element in row-major order. AvgPool2D
and GlobalAveragePooling2D against a windowed sum and a mean (their backwards are in
tests/test_contract.py)."""

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from jax import lax

from nn import AvgPool2D, GlobalAveragePooling2D, MaxPool2D
from nn.layer import pair
from tests.gradcheck import check_layer_against_vjp, check_layer_finite_differences


@st.composite
def pool_cases(draw):
    ph, pw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    strides = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    h, w = draw(st.integers(ph, 9)), draw(st.integers(pw, 9))  # often not divisible
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return MaxPool2D((ph, pw), strides), (n, h, w, c), draw(st.integers(0, 2**31 - 1))


def setup(layer, shape, seed):
    rng = np.random.default_rng(seed)
    _, _, out_shape = layer.init(jax.random.key(0), shape[1:])
    x = jnp.asarray(rng.standard_normal(shape), jnp.float32)  # continuous: no ties
    dy = jnp.asarray(rng.standard_normal((shape[0], *out_shape)), jnp.float32)
    return rng, x, dy


@given(pool_cases())
def test_maxpool_forward_matches_reduce_window(case):
    layer, shape, seed = case
    _, x, _ = setup(layer, shape, seed)
    (ph, pw), (sh, sw) = pair(layer.pool_size), layer.stride_pair
    ref = lax.reduce_window(x, -jnp.inf, lax.max, (1, ph, pw, 1), (1, sh, sw, 1), "VALID")
    y, _, _ = layer.forward({}, {}, x)
    assert y.shape == ref.shape
    np.testing.assert_array_equal(y, ref)


@given(pool_cases())
def test_maxpool_backward_matches_vjp(case):
    layer, shape, seed = case
    _, x, dy = setup(layer, shape, seed)
    check_layer_against_vjp(layer, {}, x, dy)


@given(pool_cases())
def test_maxpool_backward_matches_finite_differences(case):
    layer, shape, seed = case
    rng, x, dy = setup(layer, shape, seed)
    check_layer_finite_differences(layer, {}, x, dy, rng)


@given(pool_cases())
def test_maxpool_gradient_is_zero_off_maxima_and_sums_to_upstream(case):
    layer, shape, seed = case
    _, x, dy = setup(layer, shape, seed)
    y, cache, _ = layer.forward({}, {}, x)
    _, dx = layer.backward({}, cache, dy)
    # Nonzero only where the input equals some window maximum.
    is_some_max = np.isin(np.asarray(x), np.asarray(y))
    assert not np.any(np.asarray(dx)[~is_some_max])
    # Every window routes its whole dy: totals agree per example and channel.
    np.testing.assert_allclose(dx.sum(axis=(1, 2)), dy.sum(axis=(1, 2)), rtol=1e-5, atol=1e-5)
    # Non-overlapping windows: each window's dx sums to exactly its own dy.
    (ph, pw), (sh, sw) = pair(layer.pool_size), layer.stride_pair
    if (sh, sw) == (ph, pw):
        _, ho, wo, _ = y.shape
        n, _, _, c = x.shape
        per_window = np.asarray(dx)[:, : ho * ph, : wo * pw].reshape(n, ho, ph, wo, pw, c)
        np.testing.assert_allclose(per_window.sum(axis=(2, 4)), dy, rtol=1e-6, atol=1e-6)


def test_maxpool_ties_go_to_first_element_in_row_major_order():
    x = jnp.ones((1, 4, 4, 1), jnp.float32)  # every window is one big tie
    dy = jnp.asarray([[[[1.0], [2.0]], [[3.0], [4.0]]]], jnp.float32)
    _, cache, _ = MaxPool2D(2).forward({}, {}, x)
    _, dx = MaxPool2D(2).backward({}, cache, dy)
    expected = np.zeros((4, 4), np.float32)
    expected[0, 0], expected[0, 2], expected[2, 0], expected[2, 2] = 1, 2, 3, 4
    np.testing.assert_array_equal(dx[0, :, :, 0], expected)


def test_maxpool_seed_shape_pool3_stride3_drops_remainder():
    layer = MaxPool2D(3, 3)
    assert layer.init(jax.random.key(0), (26, 26, 32))[2] == (8, 8, 32)
    x = jnp.asarray(np.random.default_rng(0).standard_normal((2, 26, 26, 3)), jnp.float32)
    _, cache, _ = layer.forward({}, {}, x)
    _, dx = layer.backward({}, cache, jnp.ones((2, 8, 8, 3), jnp.float32))
    assert not np.any(np.asarray(dx)[:, 24:, :, :]) and not np.any(np.asarray(dx)[:, :, 24:, :])


@given(pool_cases())
def test_avgpool_forward_matches_reduce_window_mean(case):
    """The same geometries as MaxPool2D (strides above the pool size leave gaps)."""
    maxpool, shape, seed = case
    layer = AvgPool2D(maxpool.pool_size, maxpool.strides)
    _, x, dy = setup(layer, shape, seed)
    (ph, pw), (sh, sw) = pair(layer.pool_size), layer.stride_pair
    window_sum = lax.reduce_window(x, 0.0, lax.add, (1, ph, pw, 1), (1, sh, sw, 1), "VALID")
    y, cache, _ = layer.forward({}, {}, x)
    np.testing.assert_allclose(y, window_sum / (ph * pw), rtol=1e-6, atol=1e-6)
    _, dx = layer.backward({}, cache, dy)
    # every input gets dy / (PH*PW) from each window covering it: in total, sum(dx) = sum(dy)
    np.testing.assert_allclose(float(jnp.sum(dx)), float(jnp.sum(dy)), rtol=1e-5, atol=1e-5)


@given(
    st.integers(1, 3), st.integers(1, 6), st.integers(1, 6), st.integers(1, 4), st.integers(0, 99)
)
def test_global_average_pooling_is_the_mean_over_the_image(n, h, w, c, seed):
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.standard_normal((n, h, w, c)), jnp.float32)
    y, cache, _ = GlobalAveragePooling2D().forward({}, {}, x)
    np.testing.assert_allclose(y, np.asarray(x).mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)
    dy = jnp.asarray(rng.standard_normal((n, c)), jnp.float32)
    _, dx = GlobalAveragePooling2D().backward({}, cache, dy)
    np.testing.assert_allclose(
        dx,
        np.broadcast_to(np.asarray(dy)[:, None, None] / (h * w), x.shape),
        rtol=1e-6,
    )
