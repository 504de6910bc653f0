"""Conv2D: forward against lax.conv_general_dilated, backward against jax.vjp and float64 finite
differences, over hypothesis-drawn shapes, kernel sizes, strides and paddings."""

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from jax import lax

from nn import Conv2D
from tests.gradcheck import (
    assert_trees_close,
    check_layer_against_vjp,
    check_layer_finite_differences,
    random_like,
)


@st.composite
def conv_cases(draw):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    padding = draw(st.sampled_from(["valid", "same"]))
    h, w = draw(st.integers(kh, 8)), draw(st.integers(kw, 8))
    layer = Conv2D(
        draw(st.integers(1, 4)), (kh, kw), (sh, sw), padding, use_bias=draw(st.booleans())
    )
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return layer, (n, h, w, c), draw(st.integers(0, 2**31 - 1))


def setup(layer, shape, seed, dtype=jnp.float32):
    rng = np.random.default_rng(seed)
    params, _, out_shape = layer.init(jax.random.key(seed), shape[1:])
    params = random_like(rng, params)  # random biases too, not Glorot/zeros
    x = jnp.asarray(rng.standard_normal(shape), dtype)
    dy = jnp.asarray(rng.standard_normal((shape[0], *out_shape)), dtype)
    return rng, params, x, dy


@given(conv_cases())
def test_conv_forward_matches_lax_conv(case):
    layer, shape, seed = case
    _, params, x, _ = setup(layer, shape, seed)
    y, _, _ = layer.forward(params, {}, x)
    ref = lax.conv_general_dilated(
        x,
        params["w"],
        layer.strides if isinstance(layer.strides, tuple) else (layer.strides,) * 2,
        layer.padding.upper(),
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )
    if layer.use_bias:
        ref = ref + params["b"][None, None, None, :]
    assert y.shape == ref.shape
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


@given(conv_cases())
def test_conv_backward_matches_vjp(case):
    layer, shape, seed = case
    _, params, x, dy = setup(layer, shape, seed)
    check_layer_against_vjp(layer, params, x, dy)


@given(conv_cases())
def test_conv_backward_matches_finite_differences(case):
    layer, shape, seed = case
    rng, params, x, dy = setup(layer, shape, seed)
    check_layer_finite_differences(layer, params, x, dy, rng)


@given(conv_cases(), st.floats(-3, 3), st.floats(-3, 3))
def test_conv_backward_is_linear_in_upstream(case, a, b):
    layer, shape, seed = case
    rng, params, x, dy1 = setup(layer, shape, seed, jnp.float64)
    params = jax.tree_util.tree_map(lambda p: p.astype(jnp.float64), params)
    dy2 = jnp.asarray(rng.standard_normal(dy1.shape))

    @jax.jit
    def backward(dy):
        return layer.backward(params, layer.forward(params, {}, x)[1], dy)

    (g1, dx1), (g2, dx2) = backward(dy1), backward(dy2)
    g12, dx12 = backward(a * dy1 + b * dy2)
    combo = jax.tree_util.tree_map(lambda u, v: a * u + b * v, (g1, dx1), (g2, dx2))
    assert_trees_close((g12, dx12), combo, rtol=1e-9, atol=1e-9, what="linearity")


def test_conv_same_padding_keeps_size_and_valid_shrinks_it():
    x_shape = (28, 28, 1)
    assert Conv2D(8, 3, padding="same").init(jax.random.key(0), x_shape)[2] == (28, 28, 8)
    assert Conv2D(8, 3, padding="valid").init(jax.random.key(0), x_shape)[2] == (26, 26, 8)
    assert Conv2D(8, 5, 2, padding="same").init(jax.random.key(0), x_shape)[2] == (14, 14, 8)


def test_conv_glorot_init_has_keras_bounds_and_zero_bias():
    params, _, _ = Conv2D(32, 3).init(jax.random.key(0), (28, 28, 1))
    limit = np.sqrt(6 / (9 * 1 + 9 * 32))
    assert float(jnp.max(jnp.abs(params["w"]))) <= limit
    assert float(jnp.max(jnp.abs(params["w"]))) > 0.9 * limit
    assert not np.any(np.asarray(params["b"]))


def test_conv_rejects_bad_configuration():
    import pytest

    for bad in (
        dict(filters=0),
        dict(filters=4, kernel_size=0),
        dict(filters=4, strides=-1),
        dict(filters=4, padding="full"),
    ):
        with pytest.raises(ValueError):
            Conv2D(**bad)
    with pytest.raises(ValueError, match="does not fit"):
        Conv2D(4, 5).init(jax.random.key(0), (3, 3, 1))
