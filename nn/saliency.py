"""Saliency: which input pixels push the network towards a class, from its own backward pass.

Shapes: N images, (H, W, C) each, K classes. x (N, H, W, C) is what the model's first layer
takes; classes (N,) int in [0, K).

The score of class c for image n is its log-probability,

    S[n] = log p[n, c] = z[n, c] - log sum_j exp z[n, j],      z = model.forward(x)  (N, K)

and its map is the gradient dS[n] / dx[n] (H, W, C): how much S would rise per unit of each
pixel. It comes from the chain rule, one layer at a time, exactly as in training, only with a
different upstream gradient and the input's gradient kept instead of the parameters':

    dS/dz[n, k] = [k == c] - p[n, k]                           (N, K) the upstream gradient
    dS/dx       = model.backward(params, caches, dS/dz)        each layer's backward in turn

In evaluation mode every layer treats each image on its own (BatchNorm uses its running
statistics, dropout is the identity), so the backward of the sum over n gives every image's
own gradient at once. The upstream is minus the cross-entropy's dL/dz for a batch of one with
the label c (nn/losses.py): the map is the direction in which a pixel change lowers the loss
the network would have if c were the right answer.

Why the log-probability, not the logit z[n, c]. The question the map answers is "why c rather
than the others?". Adding the same function g(x) to every logit changes no probability, yet it
changes every logit's gradient by dg/dx: in a ReLU network much of each logit's gradient is
shared by all classes (more ink raises several of them), and a logit map shows that shared part
as if it were evidence for c. The log-probability's upstream sums to zero over k, so a shared g
cancels; written out, dS/dx = sum_{j != c} p[j] (dz[c]/dx - dz[j]/dx): c against each rival,
weighted by how likely the network finds that rival. When p[c] is close to 1 the map is small,
but its direction (what is shown, scaled to its largest value) is still that of the nearest
rivals. ``score="logit"`` gives dz[c]/dx for comparison.

Numerics: 1 - p[c] would round to 0 in float32 once p[c] > 1 - 6e-8, so the upstream's entry
for c is computed as the sum of the rivals' probabilities, sum_{j != c} p[j], which keeps its
digits.

Gradient x input. The first-order Taylor expansion of S around the blank image x0,
S(x) ~ S(x0) + sum_i dS/dx_i (x_i - x0_i), splits S(x) - S(x0) into one term per pixel. With ink
measured from the paper (x0 = 0), that term is dS/dx_i * x_i: zero where there is no ink, so it
shows which strokes carried the answer, while the gradient alone also shows where more ink would
help or hurt. ``times_input`` computes it.

Several views (test-time augmentation). When the prediction is the mean of the probabilities
of V views of the image, x_v = A_v x with each A_v linear (a shift, a mirror: data/views.py),
    S[n] = log pbar[n, c],     pbar = (1/V) sum_v p_v,     p_v = softmax(model(x_v))  (N, K)
and the chain rule through the log and the mean gives
    dS/dx = (1 / pbar[c]) (1/V) sum_v dp_v[c]/dx = sum_v w_v A_v^T dS_v/dx_v,
    w_v[n] = p_v[n, c] / sum_u p_u[n, c]                        (N,), a softmax over v of log p_v[c]
with S_v = log p_v[n, c] each view's own score (dp_v[c] = p_v[c] dS_v): each view's map,
weighted by the share of the class's probability that view gives. The backward is linear in its
upstream gradient, so w_v scales dS_v/dz_v before the backward pass (one, over the views stacked
as one batch: evaluation mode treats every image on its own); ``views_saliency`` returns the
weighted input gradients of the views and the caller carries each back with A_v^T
(data/views.py, ``carry_back``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp

from nn.losses import log_softmax
from nn.model import ModelParams, ModelState, Sequential

Array = jax.Array
Score = Literal["log_prob", "logit"]


def score_upstream(logits: Array, classes: Array, score: Score = "log_prob") -> Array:
    """dS/dz (N, K) for S[n] = log p[n, classes[n]] (or z[n, classes[n]] with "logit")."""
    chosen = jax.nn.one_hot(classes, logits.shape[-1], dtype=logits.dtype)  # (N, K)
    if score == "logit":
        return chosen
    if score != "log_prob":
        raise ValueError(f"score must be 'log_prob' or 'logit', got {score!r}")
    rivals = jnp.exp(log_softmax(logits)) * (1 - chosen)  # (N, K) p[j], 0 at c
    return chosen * jnp.sum(rivals, axis=-1, keepdims=True) - rivals  # 1 - p[c] at c


def chosen_classes(logits: Array, classes: Array) -> Array:
    """(N,) the class each map is for: ``classes[n]``, or the predicted class (the largest
    logit) where ``classes[n]`` is negative."""
    return jnp.where(classes < 0, jnp.argmax(logits, axis=-1).astype(classes.dtype), classes)


def class_saliency(
    model: Sequential,
    params: ModelParams,
    state: ModelState,
    x: Array,
    classes: Array,
    *,
    score: Score = "log_prob",
) -> tuple[Array, Array]:
    """(logits (N, K), dS/dx like x) for S[n] the score of class ``classes[n]`` of image n (a
    negative entry: the class the network predicts), through the model's forward in evaluation
    mode and its hand-written backward."""
    logits, caches, _ = model.forward(params, state, x, train=False)  # (N, K)
    upstream = score_upstream(logits, chosen_classes(logits, classes), score)  # (N, K)
    _, dx = model.backward(params, caches, upstream)  # like x; the parameters' grads unused
    return logits, dx


def views_saliency(
    model: Sequential,
    params: ModelParams,
    state: ModelState,
    xs: Sequence[Array],
    classes: Array,
) -> tuple[Array, Array, list[Array]]:
    """The saliency of a prediction averaged over views: (log pbar (N, K), the chosen classes
    (N,), [w_v dS_v/dx_v for each view, like xs[v]]) for ``xs`` the V views' inputs, each
    (N, H, W, C). A negative class is the class pbar predicts. With one view this is
    ``class_saliency`` (w = 1)."""
    v, n = len(xs), xs[0].shape[0]
    # evaluation mode treats every image on its own: the views go through as one batch (V*N)
    logits, caches, _ = model.forward(params, state, jnp.concatenate(xs), train=False)
    log_p = log_softmax(logits).reshape(v, n, -1)  # (V, N, K)
    log_mean = logsumexp(log_p, axis=0) - jnp.log(v)  # (N, K) log pbar
    chosen = chosen_classes(log_mean, classes)  # (N,)
    log_pc = jnp.take_along_axis(log_p, chosen[None, :, None], axis=-1)[..., 0]  # (V, N)
    w = jax.nn.softmax(log_pc, axis=0).reshape(v * n, 1)  # p_v[c] / sum_u p_u[c]
    upstream = w * score_upstream(logits, jnp.tile(chosen, v))  # (V*N, K) w_v dS_v/dz_v
    _, dx = model.backward(params, caches, upstream)  # (V*N, H, W, C)
    return log_mean, chosen, list(dx.reshape(v, *xs[0].shape))


def times_input(gradient: Array, x: Array, blank: Array | float = 0.0) -> Array:
    """Gradient x input: each pixel's term of S(x) - S(blank) to first order,
    gradient * (x - blank), like x."""
    return gradient * (x - blank)
