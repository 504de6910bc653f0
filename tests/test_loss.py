"""Softmax cross-entropy: value against jax.nn.log_softmax, backward against jax.grad, and the
identities of its gradient."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nn import softmax_cross_entropy, softmax_cross_entropy_backward


@st.composite
def logits_and_labels(draw):
    n, k = draw(st.integers(1, 16)), draw(st.integers(2, 12))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    logits = jnp.asarray(draw(st.floats(0.1, 50.0)) * rng.standard_normal((n, k)), jnp.float32)
    labels = jnp.asarray(rng.integers(0, k, n), jnp.int32)
    return logits, labels, rng


@given(logits_and_labels())
def test_loss_matches_log_softmax_oracle(case):
    logits, labels, _ = case
    loss, _ = softmax_cross_entropy(logits, labels)
    ref = -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(labels.shape[0]), labels])
    np.testing.assert_allclose(loss, ref, rtol=1e-5, atol=1e-6)


@given(logits_and_labels())
def test_loss_backward_matches_jax_grad_and_rows_sum_to_zero(case):
    logits, labels, rng = case
    weights = jnp.asarray(rng.integers(0, 2, labels.shape[0]), jnp.float32).at[0].set(1.0)
    for w in (None, weights):
        _, cache = softmax_cross_entropy(logits, labels, w)
        dz = softmax_cross_entropy_backward(cache)
        ref = jax.grad(lambda z, w=w: softmax_cross_entropy(z, labels, w)[0])(logits)
        np.testing.assert_allclose(dz, ref, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(dz.sum(axis=1), 0.0, atol=1e-6)


@given(logits_and_labels())
def test_unweighted_gradient_is_softmax_minus_onehot_over_n(case):
    logits, labels, _ = case
    _, cache = softmax_cross_entropy(logits, labels)
    n, k = logits.shape
    expected = (jax.nn.softmax(logits) - jax.nn.one_hot(labels, k, dtype=jnp.float32)) / n
    np.testing.assert_allclose(softmax_cross_entropy_backward(cache), expected, atol=1e-6)


def test_loss_is_finite_for_huge_logits():
    """Naive exp() overflows at 89 in float32; the shifted form needs only the loss itself to
    be representable: row losses 0 and 2e30 here, mean 1e30."""
    logits = jnp.asarray([[1e4, -1e4, 0.0], [-1e30, 1e30, 0.0]], jnp.float32)
    loss, cache = softmax_cross_entropy(logits, jnp.asarray([0, 0], jnp.int32))
    assert np.isfinite(float(loss)) and abs(float(loss) - 1e30) / 1e30 < 1e-6
    assert np.all(np.isfinite(np.asarray(softmax_cross_entropy_backward(cache))))


def test_zero_weight_masks_an_example_out():
    logits = jnp.asarray(np.random.default_rng(0).standard_normal((4, 5)), jnp.float32)
    labels = jnp.asarray([0, 1, 2, 3], jnp.int32)
    masked, cache = softmax_cross_entropy(logits, labels, jnp.asarray([1, 1, 1, 0], jnp.float32))
    plain, _ = softmax_cross_entropy(logits[:3], labels[:3])
    np.testing.assert_allclose(masked, plain, rtol=1e-6)
    assert not np.any(np.asarray(softmax_cross_entropy_backward(cache))[3])


@given(logits_and_labels(), st.floats(0.0, 0.5))
def test_label_smoothing_matches_its_definition_and_jax_grad(case, s):
    """loss = -sum_k q_k log p_k with q = (1 - s) onehot + s / K; dL/dz = w (p - q)."""
    logits, labels, rng = case
    k = logits.shape[1]
    weights = jnp.asarray(rng.random(labels.shape[0]) + 0.1, jnp.float32)
    loss, cache = softmax_cross_entropy(logits, labels, weights, label_smoothing=s)
    q = (1 - s) * jax.nn.one_hot(labels, k, dtype=jnp.float32) + s / k
    per_example = -jnp.sum(q * jax.nn.log_softmax(logits), axis=1)
    ref = jnp.sum(weights * per_example) / jnp.sum(weights)
    np.testing.assert_allclose(loss, ref, rtol=1e-5, atol=1e-6)
    grad = jax.grad(lambda z: softmax_cross_entropy(z, labels, weights, label_smoothing=s)[0])(
        logits
    )
    np.testing.assert_allclose(softmax_cross_entropy_backward(cache), grad, rtol=1e-5, atol=1e-7)


def test_label_smoothing_is_bounded_and_zero_is_the_plain_loss():
    logits = jnp.asarray([[2.0, -1.0, 0.5]], jnp.float32)
    labels = jnp.asarray([0], jnp.int32)
    plain, _ = softmax_cross_entropy(logits, labels)
    np.testing.assert_array_equal(
        softmax_cross_entropy(logits, labels, label_smoothing=0.0)[0], plain
    )
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="label_smoothing"):
            softmax_cross_entropy(logits, labels, label_smoothing=bad)
