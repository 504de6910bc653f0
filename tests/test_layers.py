"""Dense, ReLU, Flatten and Dropout: backward against jax.vjp and finite differences, forward
against plain oracles, and dropout's statistical identities."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nn import Dense, Dropout, Flatten, ReLU
from tests.gradcheck import check_layer_against_vjp, check_layer_finite_differences, random_like

seeds = st.integers(0, 2**31 - 1)


@given(st.integers(1, 5), st.integers(1, 7), st.integers(1, 6), st.booleans(), seeds)
def test_dense_matches_matmul_vjp_and_finite_differences(n, d, u, bias, seed):
    rng = np.random.default_rng(seed)
    layer = Dense(u, use_bias=bias)
    params = random_like(rng, layer.init(jax.random.key(seed), (d,))[0])
    x = jnp.asarray(rng.standard_normal((n, d)), jnp.float32)
    dy = jnp.asarray(rng.standard_normal((n, u)), jnp.float32)
    y, _, _ = layer.forward(params, {}, x)
    ref = np.asarray(x) @ np.asarray(params["w"]) + (np.asarray(params["b"]) if bias else 0)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
    check_layer_against_vjp(layer, params, x, dy)
    check_layer_finite_differences(layer, params, x, dy, rng)


@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), seeds)
def test_relu_and_flatten_backward_match_vjp(dims, seed):
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.standard_normal((2, *dims)), jnp.float32)
    check_layer_against_vjp(ReLU(), {}, x, jnp.asarray(rng.standard_normal(x.shape), jnp.float32))
    check_layer_finite_differences(ReLU(), {}, x, rng.standard_normal(x.shape), rng)
    flat_dy = jnp.asarray(rng.standard_normal((2, int(np.prod(dims)))), jnp.float32)
    check_layer_against_vjp(Flatten(), {}, x, flat_dy)
    assert Flatten().init(None, tuple(dims))[2] == (int(np.prod(dims)),)


def test_flatten_is_row_major_like_keras():
    x = jnp.arange(24, dtype=jnp.float32).reshape(1, 2, 3, 4)
    np.testing.assert_array_equal(Flatten().forward({}, {}, x)[0][0], np.arange(24))


@given(st.floats(0.0, 0.9), st.integers(1, 4), st.integers(1, 6), seeds)
def test_dropout_is_identity_in_eval_mode(rate, n, d, seed):
    x = jnp.asarray(np.random.default_rng(seed).standard_normal((n, d)), jnp.float32)
    y, cache, _ = Dropout(rate).forward({}, {}, x, key=jax.random.key(seed), train=False)
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(Dropout(rate).backward({}, cache, x)[1], x)


@given(st.sampled_from([0.1, 0.25, 0.5, 0.75]), seeds)
def test_dropout_keeps_the_mean_in_train_mode(rate, seed):
    """E[y] = x. With x = 1 over M entries, mean(y) has std sqrt(rate / (1 - rate) / M);
    we allow 5 standard deviations (a false failure has probability < 1e-6)."""
    m = 200_000
    y, cache, _ = Dropout(rate).forward(
        {}, {}, jnp.ones((m,), jnp.float32), key=jax.random.key(seed), train=True
    )
    bound = 5 * np.sqrt(rate / (1 - rate) / m)
    assert abs(float(jnp.mean(y)) - 1.0) < bound
    kept = float(jnp.mean(y > 0))
    assert abs(kept - (1 - rate)) < 5 * np.sqrt(rate * (1 - rate) / m)
    np.testing.assert_allclose(
        np.unique(np.asarray(y)), [0.0, 1 / (1 - rate)][: 2 if rate else 1], rtol=1e-6
    )


@given(st.sampled_from([0.2, 0.5]), st.integers(1, 4), st.integers(1, 6), seeds)
def test_dropout_backward_matches_vjp_with_the_same_key(rate, n, d, seed):
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.standard_normal((n, d)), jnp.float32)
    dy = jnp.asarray(rng.standard_normal((n, d)), jnp.float32)
    check_layer_against_vjp(Dropout(rate), {}, x, dy, key=jax.random.key(seed), train=True)


def test_dropout_needs_a_key_in_train_mode_and_a_valid_rate():
    with pytest.raises(ValueError, match="PRNG key"):
        Dropout(0.5).forward({}, {}, jnp.ones((2, 2), jnp.float32), train=True)
    for bad in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match="rate"):
            Dropout(bad)
