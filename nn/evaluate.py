"""Evaluation: loss, accuracy and class probabilities of a model over a whole split, in
fixed-size batches gathered on the device (one compilation serves every batch).

Shapes: N examples, B batch size, K classes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.scipy.special import logsumexp
from jax.sharding import Mesh

from nn.batches import DeviceArrays, batches
from nn.losses import log_softmax
from nn.micro_batch import MicroBatch, chunk_size, resolve_micro_batch
from nn.model import ModelParams, ModelState, Sequential
from nn.parallel import Placement, to_host
from nn.runtime import step_options

Array = jax.Array
View = Callable[[Array], Array]  # a fixed transform of a batch (B, H, W, C), e.g. a mirror image


def views_log_probs(
    model: Sequential,
    params: ModelParams,
    model_state: ModelState,
    x: Array,
    views: Sequence[View] = (),
) -> Array:
    """log of the class probabilities (B, K) of x (B, H, W, C) in evaluation mode: with
    ``views``, of their mean over the image and its views. Evaluation mode treats every image
    on its own, so the views go through the model as one batch, each image's next to it (a
    device's rows stay its own under a mesh)."""
    if not views:
        return log_softmax(model.forward(params, model_state, x, train=False)[0])
    xs = jnp.stack([x, *(view(x) for view in views)], axis=1)  # (B, 1 + V, H, W, C)
    xs = xs.reshape(-1, *x.shape[1:])  # ((1 + V) B, H, W, C)
    each = log_softmax(model.forward(params, model_state, xs, train=False)[0])
    each = each.reshape(x.shape[0], 1 + len(views), -1)  # (B, 1 + V, K)
    return logsumexp(each, axis=1) - jnp.log(1 + len(views))  # the mean, in log space


def make_eval_step(
    model: Sequential,
    views: Sequence[View] = (),
    micro_batch: MicroBatch = "auto",
    mesh: Mesh | None = None,
) -> Callable[..., tuple]:
    """eval(params, model_state, data, index, weight) -> (weighted loss per example (B,),
    probs (B, K)), in evaluation mode (no dropout; BatchNorm uses its running statistics).

    Test-time augmentation: with ``views``, each image is also classified as each view shows
    it, and the probabilities are the mean over the image and its views (the loss is the
    cross-entropy of that mean). The image and its views go through the model as one batch:
    1 + len(views) times the work, one copy of the forward pass to compile (with the default
    CNN's 4 shifts, about half a second less to compile than one forward pass per view:
    BENCHMARKS.md).

    On a CPU the batch goes through the model in chunks of at most ``micro_batch`` examples
    ("auto": nn/micro_batch.py's default for the platform; with views, 1 + len(views) times as
    many rows, which measured faster than smaller chunks), one after another inside the one
    program, so that every layer's activations stay in the caches: the default CNN evaluates
    MNIST's 10,000 test images 3.6x faster in batches of 250 (BENCHMARKS.md). Evaluation mode
    never mixes examples, so the chunks change nothing but the speed. With a ``mesh`` of several
    devices (the batch's rows split across them) the batch is not chunked: chunks of the whole
    batch would cut across the devices' blocks, and XLA would gather them. On a CPU it is
    compiled with XLA options (nn/runtime.py's ``step_options``): call it at the top level."""

    def chunk_outputs(params: ModelParams, model_state: ModelState, data: DeviceArrays,
                      index: Array) -> tuple[Array, Array]:  # fmt: skip
        log_probs = views_log_probs(model, params, model_state, data.x[index], views)  # (B, K)
        nll = -jnp.take_along_axis(log_probs, data.y[index][:, None], axis=-1)[:, 0]
        return nll, jnp.exp(log_probs)

    chunk = None if mesh is not None and mesh.size > 1 else resolve_micro_batch(micro_batch, mesh)

    def evaluate_batch(
        params: ModelParams,
        model_state: ModelState,
        data: DeviceArrays,
        index: Array,
        weight: Array,
    ) -> tuple[Array, Array]:
        chunks = index.shape[0] // chunk_size(index.shape[0], chunk)
        if chunks == 1:
            nll, probs = chunk_outputs(params, model_state, data, index)
        else:
            rows = index.reshape(chunks, -1)  # (chunks, B / chunks), one chunk after another
            nll, probs = lax.map(lambda i: chunk_outputs(params, model_state, data, i), rows)
            nll, probs = nll.reshape(-1), probs.reshape(-1, probs.shape[-1])
        return nll * weight, probs

    return jax.jit(evaluate_batch, compiler_options=step_options(mesh))  # nn/runtime.py


class Evaluation(NamedTuple):
    loss: float  # mean cross-entropy
    accuracy: float  # fraction correct
    probs: np.ndarray  # (N, K) softmax probabilities, in dataset order
    predictions: np.ndarray  # (N,) int32 argmax class


def evaluate(
    eval_step: Callable,
    params: ModelParams,
    model_state: ModelState,
    data: DeviceArrays,
    batch_size: int,
    placement: Placement | None = None,
) -> Evaluation:
    """Loss, accuracy and class probabilities over a whole split, in fixed-size batches (the
    last one padded with weight 0, so one compilation serves every batch). With a placement
    over several devices, each batch is split across them."""
    placement = placement or Placement()
    n = data.y.shape[0]
    batch_size = min(batch_size, n)
    nll, probs = [], []
    for b in batches(n, batch_size, shuffle=False, drop_last=False):
        losses, p = eval_step(params, model_state, data, *placement.rows(b.index, b.weight))
        real = int(b.weight.sum())
        nll.append(to_host(losses)[:real])
        probs.append(to_host(p)[:real])
    probs_np = np.concatenate(probs)
    preds = probs_np.argmax(axis=-1).astype(np.int32)
    labels = to_host(data.y)
    return Evaluation(
        loss=float(np.sum(np.concatenate(nll), dtype=np.float64)) / n,
        accuracy=float(np.mean(preds == labels)),
        probs=probs_np,
        predictions=preds,
    )
