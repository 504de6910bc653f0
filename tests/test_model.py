"""Sequential: whole-model gradient equals jax.grad of the model's loss, finite differences on
the full model, and a Keras-like summary."""

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from nn import (
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    MaxPool2D,
    ReLU,
    Sequential,
    count_params,
    softmax_cross_entropy,
    softmax_cross_entropy_backward,
)
from tests.gradcheck import assert_trees_close, random_like, to64


def small_cnn(filters, kernel, pool, padding, rate):
    return Sequential(
        [
            Conv2D(filters, kernel, padding=padding),
            ReLU(),
            MaxPool2D(pool),
            Conv2D(filters + 1, kernel, padding="same"),
            ReLU(),
            Flatten(),
            Dropout(rate),
            Dense(5),
            ReLU(),
            Dense(3),
        ]
    )


def model_loss_and_grads(model, params, x, labels, key):
    logits, caches = model.forward(params, x, key=key, train=True)
    loss, loss_cache = softmax_cross_entropy(logits, labels)
    grads, _ = model.backward(params, caches, softmax_cross_entropy_backward(loss_cache))
    return loss, grads


@st.composite
def model_cases(draw):
    model = small_cnn(
        draw(st.integers(1, 3)),
        draw(st.integers(1, 3)),
        draw(st.integers(1, 3)),
        draw(st.sampled_from(["valid", "same"])),
        draw(st.sampled_from([0.0, 0.5])),
    )
    n, hw = draw(st.integers(1, 4)), draw(st.integers(6, 10))
    return model, (n, hw, hw, 2), draw(st.integers(0, 2**31 - 1))


def setup(model, shape, seed):
    rng = np.random.default_rng(seed)
    params, _ = model.init(jax.random.key(seed), shape[1:])
    params = random_like(rng, params)
    x = jnp.asarray(rng.standard_normal(shape), jnp.float32)
    labels = jnp.asarray(rng.integers(0, 3, shape[0]), jnp.int32)
    return rng, params, x, labels


@settings(max_examples=10)
@given(model_cases())
def test_model_gradient_equals_jax_grad(case):
    model, shape, seed = case
    _, params, x, labels = setup(model, shape, seed)
    key = jax.random.key(seed)

    @jax.jit
    def both(p):
        ours = model_loss_and_grads(model, p, x, labels, key)
        ref = jax.value_and_grad(
            lambda q: softmax_cross_entropy(model.forward(q, x, key=key, train=True)[0], labels)[0]
        )(p)
        return ours, ref

    (loss, grads), (loss_ref, grads_ref) = both(params)
    np.testing.assert_allclose(loss, loss_ref, rtol=1e-6)
    assert_trees_close(grads, grads_ref, rtol=1e-4, atol=1e-5, what="model gradients")


@settings(max_examples=5)
@given(model_cases())
def test_model_gradient_matches_finite_differences(case):
    """float64 central differences along one random direction; relative tolerance 1e-6."""
    model, shape, seed = case
    rng, params, x, labels = setup(model, shape, seed)
    params, x, key = to64(params), to64(x), jax.random.key(seed)
    run = jax.jit(lambda p: model_loss_and_grads(model, p, x, labels, key))
    _, grads = run(params)
    v = random_like(rng, params)
    eps = 1e-6
    plus = jax.tree_util.tree_map(lambda a, b: a + eps * b, params, v)
    minus = jax.tree_util.tree_map(lambda a, b: a - eps * b, params, v)
    numeric = (float(run(plus)[0]) - float(run(minus)[0])) / (2 * eps)
    analytic = sum(
        float(jnp.vdot(g, d))
        for g, d in zip(jax.tree_util.tree_leaves(grads), jax.tree_util.tree_leaves(v), strict=True)
    )
    assert abs(numeric - analytic) <= 1e-6 * max(1.0, abs(numeric))


def test_grads_have_exactly_the_params_tree_structure():
    model = small_cnn(2, 3, 2, "valid", 0.5)
    _, params, x, labels = setup(model, (2, 8, 8, 2), 0)
    _, grads = model_loss_and_grads(model, params, x, labels, jax.random.key(1))
    assert jax.tree_util.tree_structure(grads) == jax.tree_util.tree_structure(params)


def test_eval_mode_is_deterministic_and_needs_no_key():
    model = small_cnn(2, 3, 2, "valid", 0.5)
    _, params, x, _ = setup(model, (2, 8, 8, 2), 0)
    a, _ = model.forward(params, x)
    b, _ = model.forward(params, x)
    np.testing.assert_array_equal(a, b)


def test_each_dropout_gets_its_own_key():
    model = Sequential([Dropout(0.5), Dropout(0.5)])
    x = jnp.ones((1, 4000), jnp.float32)
    _, (c1, c2) = model.forward(
        (model.init(jax.random.key(0), (4000,))[0]), x, key=jax.random.key(3), train=True
    )
    assert not np.array_equal(np.asarray(c1.scale), np.asarray(c2.scale))


def test_summary_matches_keras_mnist_convnet():
    from benchmarks.peers import keras_convnet

    model = keras_convnet()
    text = model.summary((28, 28, 1))
    assert "(None, 26, 26, 32)" in text and "(None, 5, 5, 64)" in text
    assert "Total params: 34,826" in text  # Keras's mnist_convnet reports the same count
    params, shapes = model.init(jax.random.key(0), (28, 28, 1))
    assert count_params(params) == 34_826 and shapes[-1] == (10,)
