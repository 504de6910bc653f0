"""Softmax + categorical cross-entropy on integer labels, as one numerically stable function.

Shapes: N batch, K classes. logits z (N, K), labels (N,) int in [0, K), weights (N,) optional.

    log p[n, k] = z[n, k] - m[n] - log sum_j exp(z[n, j] - m[n]),   m[n] = max_j z[n, j]
    loss        = - sum_n w[n] log p[n, labels[n]] / sum_n w[n]

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
    labels: Array  # (N,) int
    weights: Array  # (N,) float, normalised so that they sum to 1


def log_softmax(logits: Array) -> Array:
    """log softmax(z) (N, K), shifted by the row maximum so that nothing overflows."""
    shifted = logits - jnp.max(logits, axis=-1, keepdims=True)  # (N, K), every entry <= 0
    log_z = jnp.log(jnp.sum(jnp.exp(shifted), axis=-1, keepdims=True))  # (N, 1), >= 0
    return shifted - log_z


def softmax_cross_entropy(
    logits: Array, labels: Array, weights: Array | None = None
) -> tuple[Array, LossCache]:
    """Mean (or weighted mean) cross-entropy of softmax(logits) against integer labels."""
    n = logits.shape[0]
    log_probs = log_softmax(logits)  # (N, K)
    picked = jnp.take_along_axis(log_probs, labels[:, None], axis=-1)[:, 0]  # (N,)
    if weights is None:
        weights = jnp.full((n,), 1.0 / n, logits.dtype)
    else:
        weights = weights.astype(logits.dtype) / jnp.maximum(jnp.sum(weights), 1e-12)
    loss = -jnp.sum(weights * picked)
    return loss, LossCache(probs=jnp.exp(log_probs), labels=labels, weights=weights)


def softmax_cross_entropy_backward(cache: LossCache) -> Array:
    """dL/dz (N, K) = w[n] * (softmax(z)[n] - onehot(labels[n])), which is
    (softmax - onehot) / N for unweighted data.

    Derivation: -log p[n, y] = -z[n, y] + log sum_j exp z[n, j], whose derivative in z[n, k] is
    -[k == y] + exp z[n, k] / sum_j exp z[n, j] = p[n, k] - onehot[n, k]. Each row sums to 0.
    """
    onehot = jax.nn.one_hot(cache.labels, cache.probs.shape[-1], dtype=cache.probs.dtype)
    return cache.weights[:, None] * (cache.probs - onehot)
