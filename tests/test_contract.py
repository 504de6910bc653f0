"""The contract every layer keeps (nn/layer.py), checked for every layer that ``nn`` exports:
``init``'s output shape is the forward's, gradients mirror the parameters and the new state
mirrors the state, the backward equals jax.vjp and float64 central differences for random
upstream gradients, and the layer jits. A layer added to ``nn.__all__`` without a case here
fails ``test_every_exported_layer_has_a_contract_case``.

Then BatchNorm's own identities: its input gradient sums to zero and (as epsilon -> 0) is
orthogonal to x-hat per channel, evaluation is an affine map, the running averages converge to
the data's statistics, and both modes agree with Keras's formulas (and with Keras itself when it
is installed)."""

from __future__ import annotations

import inspect
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nn
from nn import (
    AvgPool2D,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAveragePooling2D,
    MaxPool2D,
    ReLU,
)
from tests.gradcheck import (
    assert_trees_close,
    check_layer_against_vjp,
    check_layer_finite_differences,
    random_like,
)


class Case(NamedTuple):
    layer: object
    in_shape: tuple[int, ...]  # without the batch axis
    train: bool  # the mode whose backward is checked


CASES: dict[str, list[Case]] = {
    "Conv2D": [
        Case(Conv2D(3, 3, padding="same"), (6, 5, 2), True),
        Case(Conv2D(2, (2, 3), strides=2, use_bias=False), (7, 6, 3), True),
    ],
    "Dense": [Case(Dense(4), (5,), True), Case(Dense(3, use_bias=False), (2,), True)],
    "ReLU": [Case(ReLU(), (7,), True), Case(ReLU(), (3, 3, 2), True)],
    "Flatten": [Case(Flatten(), (3, 4, 2), True)],
    "Dropout": [Case(Dropout(0.3), (12,), True), Case(Dropout(0.5), (3, 3, 2), False)],
    "MaxPool2D": [Case(MaxPool2D(2), (6, 5, 2), True), Case(MaxPool2D(3, 2), (7, 7, 2), True)],
    "AvgPool2D": [Case(AvgPool2D(2), (6, 5, 2), True), Case(AvgPool2D(3, 2), (7, 8, 2), True)],
    "GlobalAveragePooling2D": [Case(GlobalAveragePooling2D(), (4, 5, 3), True)],
    "BatchNorm": [
        Case(BatchNorm(), (5,), True),
        Case(BatchNorm(momentum=0.9, epsilon=1e-5), (4, 3, 3), True),
        Case(BatchNorm(), (3, 4, 2), False),
    ],
}
ALL = [
    pytest.param(case, id=f"{name}-{i}")
    for name, cases in CASES.items()
    for i, case in enumerate(cases)
]


def exported_layers() -> set[str]:
    """Every class that nn exports with the layer protocol's three functions."""
    return {
        name
        for name in nn.__all__
        if inspect.isclass(obj := getattr(nn, name))
        and all(hasattr(obj, f) for f in ("init", "forward", "backward"))
        and name != "Sequential"
    }


def test_every_exported_layer_has_a_contract_case():
    assert exported_layers() == set(CASES), "add a case for each new layer to CASES"


def setup(case: Case, seed: int, batch: int = 3):
    """Random parameters (never the initial ones: gamma = 1 would hide a missing factor), the
    initial state, an input and an upstream gradient of the output's shape."""
    rng = np.random.default_rng(seed)
    params, state, out_shape = case.layer.init(jax.random.key(seed), case.in_shape)
    params = random_like(rng, params)
    if state:  # plausible running statistics: any mean, a positive variance
        state = {"mean": random_like(rng, state)["mean"], "var": state["var"] * 1.7}
    x = jnp.asarray(rng.standard_normal((batch, *case.in_shape)), jnp.float32)
    dy = jnp.asarray(rng.standard_normal((batch, *out_shape)), jnp.float32)
    return rng, params, state, out_shape, x, dy


@pytest.mark.parametrize("case", ALL)
def test_init_shape_matches_forward_and_trees_mirror(case):
    _, params, state, out_shape, x, dy = setup(case, 0)
    key = jax.random.key(1)
    y, cache, new_state = case.layer.forward(params, state, x, key=key, train=case.train)
    assert y.shape == (x.shape[0], *out_shape) and y.dtype == x.dtype
    grads, dx = case.layer.backward(params, cache, dy)
    assert dx.shape == x.shape and dx.dtype == x.dtype
    same = jax.tree_util.tree_structure
    assert same(grads) == same(params), "grads must have exactly the structure of params"
    assert same(new_state) == same(state), "the new state must have the structure of the state"
    for g, p in zip(jax.tree.leaves(grads), jax.tree.leaves(params), strict=True):
        assert g.shape == p.shape and g.dtype == p.dtype
    for s, s0 in zip(jax.tree.leaves(new_state), jax.tree.leaves(state), strict=True):
        assert s.shape == s0.shape and s.dtype == s0.dtype
    if not case.train:  # evaluation never changes the state
        for s, s0 in zip(jax.tree.leaves(new_state), jax.tree.leaves(state), strict=True):
            np.testing.assert_array_equal(s, s0)


@settings(max_examples=5)
@given(seed=st.integers(0, 2**31 - 1))
@pytest.mark.parametrize("case", ALL)
def test_backward_matches_vjp_and_finite_differences(case, seed):
    rng, params, state, _, x, dy = setup(case, seed)
    key = jax.random.key(seed)
    check_layer_against_vjp(case.layer, params, x, dy, state=state, key=key, train=case.train)
    check_layer_finite_differences(
        case.layer, params, x, dy, rng, state=state, key=key, train=case.train
    )


@pytest.mark.parametrize("case", ALL)
def test_layer_jits_and_gives_the_eager_result(case):
    _, params, state, _, x, dy = setup(case, 2)
    key = jax.random.key(3)

    def step(params, state, x, dy, key):
        y, cache, new_state = case.layer.forward(params, state, x, key=key, train=case.train)
        return y, new_state, case.layer.backward(params, cache, dy)

    eager = step(params, state, x, dy, key)
    jitted = jax.jit(step)(params, state, x, dy, key)
    assert_trees_close(jitted, eager, rtol=1e-5, atol=1e-6, what="jit vs eager")


# ---------------------------------------------------------------- BatchNorm's own identities

shapes = st.sampled_from([(8, 3), (4, 3, 3, 2), (2, 5, 4, 3), (16, 1)])


@given(shapes, st.integers(0, 2**31 - 1))
def test_batchnorm_input_gradient_sums_to_zero_and_is_orthogonal_to_xhat(shape, seed):
    """Exact for epsilon -> 0: then y is unchanged when x shifts or scales per channel, so dx
    has no component along 1 or along x - mu. (With epsilon, sum(dx * xhat) is
    M * rstd * mean(dxhat * xhat) * epsilon / (var + epsilon), not 0.)"""
    rng = np.random.default_rng(seed)
    layer = BatchNorm(epsilon=1e-9)
    params, state, _ = layer.init(None, shape[1:])
    params = random_like(rng, params)
    x = jnp.asarray(3.0 * rng.standard_normal(shape) + 1.5, jnp.float32)
    dy = jnp.asarray(rng.standard_normal(shape), jnp.float32)
    _, cache, _ = layer.forward(params, state, x, train=True)
    _, dx = layer.backward(params, cache, dy)
    axes = tuple(range(len(shape) - 1))
    scale = float(jnp.max(jnp.abs(dx))) * np.prod(shape[:-1])
    np.testing.assert_allclose(jnp.sum(dx, axis=axes), 0.0, atol=1e-5 * scale)
    np.testing.assert_allclose(jnp.sum(dx * cache.xhat, axis=axes), 0.0, atol=1e-5 * scale)


@given(shapes, st.floats(-2.0, 3.0), st.integers(0, 2**31 - 1))
def test_batchnorm_evaluation_is_an_affine_map(shape, a, seed):
    rng = np.random.default_rng(seed)
    case = Case(BatchNorm(), shape[1:], False)
    _, params, state, _, _, _ = setup(case, seed)
    x1, x2 = (jnp.asarray(rng.standard_normal(shape), jnp.float32) for _ in range(2))

    def f(x):
        return BatchNorm().forward(params, state, x, train=False)[0]

    np.testing.assert_allclose(
        f(a * x1 + (1 - a) * x2), a * f(x1) + (1 - a) * f(x2), rtol=1e-4, atol=1e-4
    )


def test_batchnorm_running_averages_converge_to_the_data_statistics():
    """Batches of 64 x 4 x 4 values per channel from N(mu, sigma^2): after 300 updates with
    momentum 0.9 the running mean and variance are within a few percent of mu and sigma^2."""
    rng = np.random.default_rng(0)
    mu, sigma = np.array([2.0, -1.0, 0.5], np.float32), np.array([3.0, 0.5, 1.0], np.float32)
    layer = BatchNorm(momentum=0.9)
    params, state, _ = layer.init(None, (4, 4, 3))
    step = jax.jit(lambda state, x: layer.forward(params, state, x, train=True)[2])
    for _ in range(300):
        state = step(
            state, jnp.asarray(mu + sigma * rng.standard_normal((64, 4, 4, 3)), jnp.float32)
        )
    assert np.all(np.abs(np.asarray(state["mean"]) - mu) < 0.05 * sigma), (state["mean"], mu)
    np.testing.assert_allclose(state["var"], sigma**2, rtol=0.05)


def keras_batchnorm_reference(x, gamma, beta, mean, var, *, momentum, epsilon, train):
    """keras.layers.BatchNormalization written out in NumPy (float64), as its source computes:
    moments over every axis but the last (biased variance), then
    y = (x - mean) * rsqrt(var + epsilon) * gamma + beta and, in training,
    moving = moving * momentum + batch * (1 - momentum)."""
    x = np.asarray(x, np.float64)
    axes = tuple(range(x.ndim - 1))
    if train:
        m, v = x.mean(axis=axes), x.var(axis=axes)
        new = (mean * momentum + m * (1 - momentum), var * momentum + v * (1 - momentum))
    else:
        m, v, new = mean, var, (mean, var)
    return (x - m) / np.sqrt(v + epsilon) * gamma + beta, new


@given(shapes, st.booleans(), st.integers(0, 2**31 - 1))
def test_batchnorm_agrees_with_keras_formulas_in_both_modes(shape, train, seed):
    case = Case(BatchNorm(), shape[1:], train)
    _, params, state, _, x, _ = setup(case, seed, batch=shape[0])
    x = 2.0 * x + 0.7
    y, _, new = BatchNorm().forward(params, state, x, train=train)
    ref_y, (ref_mean, ref_var) = keras_batchnorm_reference(
        x, *(np.asarray(params[k], np.float64) for k in ("gamma", "beta")),
        *(np.asarray(state[k], np.float64) for k in ("mean", "var")),
        momentum=0.99, epsilon=1e-3, train=train,
    )  # fmt: skip
    np.testing.assert_allclose(y, ref_y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(new["mean"], ref_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new["var"], ref_var, rtol=1e-5, atol=1e-6)


def test_batchnorm_matches_keras_itself_when_installed():
    """The same comparison against keras.layers.BatchNormalization (pip install -e '.[bench]')."""
    keras = pytest.importorskip("keras", reason="Keras is not installed (the bench extra)")
    rng = np.random.default_rng(0)
    x = (2.0 * rng.standard_normal((6, 4, 4, 3)) + 0.5).astype(np.float32)
    theirs = keras.layers.BatchNormalization()  # momentum 0.99, epsilon 1e-3
    theirs.build(x.shape)
    ours = BatchNorm()
    params, state, _ = ours.init(None, x.shape[1:])
    for train in (True, False):
        y_theirs = np.asarray(theirs(x, training=train))
        y_ours, _, state = ours.forward(params, state, jnp.asarray(x), train=train)
        np.testing.assert_allclose(y_ours, y_theirs, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(state["mean"], np.asarray(theirs.moving_mean), atol=1e-6)
        np.testing.assert_allclose(state["var"], np.asarray(theirs.moving_variance), atol=1e-6)
