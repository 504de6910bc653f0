"""Softmax + categorical cross-entropy on integer labels, as one numerically stable function,
with optional label smoothing.

Shapes: N batch, K classes. logits z (N, K), labels (N,) int in [0, K), weights (N,) optional.

    log p[n, k] = z[n, k] - m[n] - log sum_j exp(z[n, j] - m[n]),   m[n] = max_j z[n, j]
    q[n, k]     = (1 - s) [k == labels[n]] + s / K                   target, smoothing s
    loss        = - sum_n w[n] sum_k q[n, k] log p[n, k] / sum_n w[n]

With s = 0 the target is one-hot and the loss is - sum_n w[n] log p[n, labels[n]] / sum_n w[n].
Label smoothing (Szegedy et al., 2016; Keras's and PyTorch's ``label_smoothing``) moves s of the
target's mass evenly onto all K classes, so the loss stops rewarding ever larger logit gaps.

Shifting by the row maximum m makes every exponent <= 0, so nothing overflows, and at least one
term of the sum is exp(0) = 1, so the log never sees 0. The weights default to 1 (the plain
mean); a weight of 0 masks an example out, which lets a padded last batch keep a fixed shape.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from nn.layer import Array


class LossCache(NamedTuple):
    probs: Array  # (N, K) softmax(z)
    targets: Array  # (N, K) q, the (smoothed) one-hot labels; each row sums to 1
    weights: Array  # (N,) float, normalised so that they sum to 1


def log_softmax(logits: Array) -> Array:
    """log softmax(z) (N, K), shifted by the row maximum so that nothing overflows."""
    shifted = logits - jnp.max(logits, axis=-1, keepdims=True)  # (N, K), every entry <= 0
    log_z = jnp.log(jnp.sum(jnp.exp(shifted), axis=-1, keepdims=True))  # (N, 1), >= 0
    return shifted - log_z


def softmax_cross_entropy(
    logits: Array, labels: Array, weights: Array | None = None, *, label_smoothing: float = 0.0
) -> tuple[Array, LossCache]:
    """Mean (or weighted mean) cross-entropy of softmax(logits) against integer labels, with
    the target smoothed by ``label_smoothing`` s in [0, 1)."""
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}")
    n, k = logits.shape
    log_probs = log_softmax(logits)  # (N, K)
    targets = jax.nn.one_hot(labels, k, dtype=logits.dtype)  # (N, K)
    if label_smoothing:
        targets = (1.0 - label_smoothing) * targets + label_smoothing / k
    if weights is None:
        weights = jnp.full((n,), 1.0 / n, logits.dtype)
    else:
        weights = weights.astype(logits.dtype) / jnp.maximum(jnp.sum(weights), 1e-12)
    loss = -jnp.sum(weights * jnp.sum(targets * log_probs, axis=-1))
    return loss, LossCache(probs=jnp.exp(log_probs), targets=targets, weights=weights)


def softmax_cross_entropy_backward(cache: LossCache) -> Array:
    """dL/dz (N, K) = w[n] * (softmax(z)[n] - q[n]), which is (softmax - onehot) / N for
    unweighted data without smoothing.

    Derivation: -sum_k q[n, k] log p[n, k] = -sum_k q[n, k] z[n, k] + (sum_k q[n, k]) log sum_j
    exp z[n, j], and sum_k q[n, k] = 1, so its derivative in z[n, k] is -q[n, k] + exp z[n, k] /
    sum_j exp z[n, j] = p[n, k] - q[n, k]. Each row sums to 0.
    """
    return cache.weights[:, None] * (cache.probs - cache.targets)


def cross_entropy(
    logits: Array, labels: Array, *, label_smoothing: float = 0.0
) -> tuple[Array, Array]:
    """The mean cross-entropy of softmax(logits) (N, K) against labels (N,), and its gradient
    with respect to the logits (N, K): the loss of the textbook train step (nn/train.py)."""
    loss, cache = softmax_cross_entropy(logits, labels, label_smoothing=label_smoothing)
    return loss, softmax_cross_entropy_backward(cache)
