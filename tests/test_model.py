"""Sequential: whole-model gradient (with BatchNorm, dropout and label smoothing) equals jax.grad
of the model's loss, finite differences on the full model, state threading, keys per layer, and
a Keras-like summary."""

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from nn import (
    AvgPool2D,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    MaxPool2D,
    ReLU,
    Sequential,
    count_params,
    softmax_cross_entropy,
)
from nn.losses import cross_entropy
from nn.train import forward_backward
from tests.gradcheck import assert_trees_close, random_like, to64


def small_cnn(filters, kernel, pool, padding, rate):
    return Sequential(
        [
            Conv2D(filters, kernel, padding=padding),
            BatchNorm(momentum=0.9),
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


SMOOTHING = 0.1


def smoothed(logits, labels):
    return cross_entropy(logits, labels, label_smoothing=SMOOTHING)


def model_loss_and_grads(model, params, model_state, x, labels, key):
    grads, _, loss, _ = forward_backward(
        model, params, model_state, x, labels, key=key, loss=smoothed
    )
    return loss, grads


def reference_loss(model, params, model_state, x, labels, key):
    logits = model.forward(params, model_state, x, key=key, train=True)[0]
    return softmax_cross_entropy(logits, labels, label_smoothing=SMOOTHING)[0]


@st.composite
def model_cases(draw):
    model = small_cnn(
        draw(st.integers(1, 3)),
        draw(st.integers(1, 3)),
        draw(st.integers(1, 3)),
        draw(st.sampled_from(["valid", "same"])),
        draw(st.sampled_from([0.0, 0.5])),
    )
    n, hw = draw(st.integers(2, 4)), draw(st.integers(6, 10))
    return model, (n, hw, hw, 2), draw(st.integers(0, 2**31 - 1))


def setup(model, shape, seed):
    rng = np.random.default_rng(seed)
    params, model_state, _ = model.init(jax.random.key(seed), shape[1:])
    params = random_like(rng, params)
    x = jnp.asarray(rng.standard_normal(shape), jnp.float32)
    labels = jnp.asarray(rng.integers(0, 3, shape[0]), jnp.int32)
    return rng, params, model_state, x, labels


@settings(max_examples=10)
@given(model_cases())
def test_model_gradient_equals_jax_grad(case):
    model, shape, seed = case
    _, params, model_state, x, labels = setup(model, shape, seed)
    key = jax.random.key(seed)

    loss, grads = jax.jit(model_loss_and_grads, static_argnums=0)(
        model, params, model_state, x, labels, key
    )
    # The oracle runs op by op. Jitted, jax.grad of one drawn model (Conv, BatchNorm, ReLU, max
    # pooling, ...; N=3, seed 92) came out 0.8 away, in float64, from op-by-op jax.grad, which
    # agrees with ours to 1e-16; the finite-difference test below checks ours independently.
    loss_ref, grads_ref = jax.value_and_grad(reference_loss, argnums=1)(
        model, params, model_state, x, labels, key
    )
    np.testing.assert_allclose(loss, loss_ref, rtol=1e-6)
    assert_trees_close(grads, grads_ref, rtol=1e-4, atol=1e-5, what="model gradients")


@settings(max_examples=5)
@given(model_cases())
def test_model_gradient_matches_finite_differences(case):
    """float64 central differences along one random direction; relative tolerance 1e-6."""
    model, shape, seed = case
    rng, params, model_state, x, labels = setup(model, shape, seed)
    params, model_state, x = to64(params), to64(model_state), to64(x)
    key = jax.random.key(seed)
    run = jax.jit(lambda p: model_loss_and_grads(model, p, model_state, x, labels, key))
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
    _, params, model_state, x, labels = setup(model, (2, 8, 8, 2), 0)
    grads, new_state, _, _ = forward_backward(
        model, params, model_state, x, labels, key=jax.random.key(1)
    )
    assert jax.tree_util.tree_structure(grads) == jax.tree_util.tree_structure(params)
    assert jax.tree_util.tree_structure(new_state) == jax.tree_util.tree_structure(model_state)
    assert not np.array_equal(new_state[1]["mean"], model_state[1]["mean"])  # BatchNorm moved


def test_eval_mode_is_deterministic_and_needs_no_key():
    model = small_cnn(2, 3, 2, "valid", 0.5)
    _, params, model_state, x, _ = setup(model, (2, 8, 8, 2), 0)
    a, _, state_a = model.forward(params, model_state, x)
    b, _, _ = model.forward(params, model_state, x)
    np.testing.assert_array_equal(a, b)
    assert state_a is not None and all(
        np.array_equal(u, v)
        for u, v in zip(jax.tree.leaves(state_a), jax.tree.leaves(model_state), strict=True)
    )  # evaluation leaves the running statistics alone


def test_each_random_layer_gets_its_own_key():
    model = Sequential([Dropout(0.5), Dropout(0.5)])
    x = jnp.ones((1, 4000), jnp.float32)
    params, model_state, _ = model.init(jax.random.key(0), (4000,))
    _, (c1, c2), _ = model.forward(params, model_state, x, key=jax.random.key(3), train=True)
    assert not np.array_equal(np.asarray(c1.scale), np.asarray(c2.scale))


def test_summary_matches_keras_mnist_convnet():
    from benchmarks.peers import keras_convnet

    model = keras_convnet()
    text = model.summary((28, 28, 1))
    assert "(None, 26, 26, 32)" in text and "(None, 5, 5, 64)" in text
    assert "Total params: 34,826" in text  # Keras's mnist_convnet reports the same count
    params, model_state, shapes = model.init(jax.random.key(0), (28, 28, 1))
    assert count_params(params) == 34_826 and shapes[-1] == (10,)
    assert count_params(model_state) == 0 and "Non-trainable params: 0" in text


def test_summary_counts_batchnorm_statistics_as_non_trainable_like_keras():
    """Keras: BatchNormalization on 8 channels has 32 parameters, 16 of them non-trainable."""
    model = Sequential([Conv2D(8, 3), BatchNorm(), ReLU(), AvgPool2D(2), Flatten(), Dense(10)])
    text = model.summary((10, 10, 1))
    conv, dense = 3 * 3 * 1 * 8 + 8, 4 * 4 * 8 * 10 + 10
    assert "batchnorm_1 (BatchNorm)" in text and f"{32:>12,}" in text
    assert f"Total params: {conv + 32 + dense:,}" in text
    assert f"Trainable params: {conv + 16 + dense:,}" in text
    assert "Non-trainable params: 16" in text
