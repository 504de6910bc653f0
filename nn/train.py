"""The training step: forward, loss, backward, optimizer update.

Read this file in order. ``train_step`` is the textbook step for one batch (x, y): the four
numbered steps, the first three in ``forward_backward``. experiments/from_scratch.py trains
with it. ``make_train_step`` then makes the same step fast on real hardware; the gradient is
the same, up to float rounding, and what it changes is said where it changes it:

- it is jitted over data already on the device (each step gathers its rows there instead of
  copying a batch from the host) and donates the state, so that XLA updates the parameters and
  Adam's moments in place; it applies the optional augmentation and keeps the epoch's running
  sums on the device (nn/epoch_sums.py);
- on a CPU it splits a batch into chunks whose activations stay in the caches and sums their
  gradients (nn/micro_batch.py): the same gradient, computed in pieces;
- with a mesh of several devices each device does this for its block of the batch and the
  gradients are summed across the devices (nn/parallel.py).

Each piece of a batch (a chunk, a device's block) goes through ``forward_backward`` with a loss
of its own: weighted (padding rows weigh 0) and scaled by the piece's share of the batch, so
that the pieces' gradients add up to the batch's. Random layers draw differently: each piece
draws its own dropout mask.

Shapes: B batch size, K classes, R rows of one piece of a batch; the data X (N, ...) and
Y (N,) live on the device.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax import lax
from jax.sharding import Mesh

from nn.batches import DeviceArrays
from nn.epoch_sums import EpochSums
from nn.losses import cross_entropy, softmax_cross_entropy, softmax_cross_entropy_backward
from nn.micro_batch import CHUNKS_AT_ONCE, MicroBatch, chunk_size, step_micro_batch
from nn.model import ModelParams, ModelState, Sequential
from nn.parallel import AXIS, sharded
from nn.runtime import INIT, step_options

Array = jax.Array
Loss = Callable[[Array, Array], tuple[Array, Array]]  # (logits, y) -> (loss, dloss/dlogits)


class TrainState(NamedTuple):
    params: ModelParams  # one dict of arrays per layer, learned by the optimizer
    model_state: ModelState  # one dict per layer, updated by the forward pass (BatchNorm's stats)
    opt_state: Any  # the optax optimizer's state, same leaves as params (Adam: mu, nu, count)
    key: Array  # PRNG key; split once per step for the step's random draws (dropout, augment)


def train_step(
    model: Sequential,
    optimizer: optax.GradientTransformation,
    state: TrainState,
    x: Array,
    y: Array,
) -> tuple[TrainState, Array]:
    """One step of gradient descent on the batch x (B, ...), y (B,), as a textbook writes it:
    forward, loss, backward, update. Returns the new state and the batch's loss."""
    key, step_key = jax.random.split(state.key)
    grads, model_state, loss, _ = forward_backward(
        model, state.params, state.model_state, x, y, key=step_key
    )
    # 4. update: optax turns the gradients into parameter updates (Adam's moments, the schedule)
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    return TrainState(params, model_state, opt_state, key), loss


def forward_backward(
    model: Sequential,
    params: ModelParams,
    model_state: ModelState,
    x: Array,
    y: Array,
    *,
    key: Array | None = None,
    loss: Loss = cross_entropy,
) -> tuple[ModelParams, ModelState, Array, Array]:
    """The gradient of the loss of the batch x (B, ...), y (B,): (grads, new model state, loss,
    logits (B, K)). ``loss(logits, y)`` returns the loss and its gradient with respect to the
    logits: the mean cross-entropy unless told otherwise."""
    # 1. forward: the logits, what each layer's backward needs, and the layers' new state
    logits, caches, model_state = model.forward(params, model_state, x, key=key, train=True)
    # 2. the loss, and its gradient with respect to the logits
    value, dlogits = loss(logits, y)  # (), (B, K)
    # 3. backward: the chain rule through the layers, last to first
    grads, _ = model.backward(params, caches, dlogits)
    return grads, model_state, value, logits


def piece_loss(weight: Array, share: Array, label_smoothing: float) -> Loss:
    """The loss of one piece of a batch: the cross-entropy weighted by ``weight`` (R,) (0 for a
    padding row), with ``label_smoothing``, times ``share``, the piece's part of the batch's
    weight. The share enters at the logits, before the backward, so that a layer whose backward
    mixes the rows of the whole batch (BatchNorm over several devices) sees every piece at the
    same scale."""

    def loss(logits: Array, y: Array) -> tuple[Array, Array]:
        value, cache = softmax_cross_entropy(logits, y, weight, label_smoothing=label_smoothing)
        return value * share, softmax_cross_entropy_backward(cache) * share

    return loss


Augment = Callable[[Array, Array], Array]  # augment(key, x (B, H, W, C)) -> x, same shape


def make_train_step(
    model: Sequential,
    optimizer: optax.GradientTransformation,
    *,
    micro_batch: MicroBatch = "auto",
    mesh: Mesh | None = None,
    augment: Augment | None = None,
    label_smoothing: float = 0.0,
) -> Callable[..., tuple[TrainState, EpochSums]]:
    """step(state, sums, data, index, weight) -> (state, sums): ``train_step`` on the rows
    ``index`` (B,) of the device-resident ``data`` (weight 0 marks padding rows), jitted, with
    the state and the sums donated so that XLA updates them in place.

    On a CPU a batch larger than ``micro_batch`` ("auto": nn/micro_batch.py's default for the
    devices' platform) is processed in chunks. A model with batch statistics (BatchNorm) is never
    split into chunks: its layers must see the whole batch. With a ``mesh`` of several devices
    each device takes its block of the batch and the gradients are summed over the devices;
    layers with batch statistics reduce over the mesh axis, so they too see the whole batch.

    Padding. Weight-0 rows (a padded last batch, or a batch padded to a multiple of the device
    count) change no gradient of a model whose examples are independent. BatchNorm, though,
    normalises every row it is given, padding included: give a model with batch statistics full
    batches of real rows (drop the last partial batch, and use a batch size that the device
    count divides; the experiments check this).

    On a CPU, without augmentation or batch statistics, the step is compiled with XLA options
    (nn/runtime.py's ``step_options``): call it at the top level, not inside another ``jax.jit``.
    """
    micro_batch = step_micro_batch(micro_batch, mixes_batch=model.mixes_batch, mesh=mesh)
    parallel = mesh is not None and mesh.size > 1
    if parallel:
        model = model.with_axis_name(AXIS)

    def step(
        state: TrainState, sums: EpochSums, data: DeviceArrays, index: Array, weight: Array
    ) -> tuple[TrainState, EpochSums]:
        params, (key, step_key) = state.params, jax.random.split(state.key)
        total = jnp.sum(weight)
        if parallel:  # this is one device's block of the batch: the whole batch's weight
            total = lax.psum(total, AXIS)
            step_key = jax.random.fold_in(step_key, lax.axis_index(AXIS))  # its own draws

        x, y = data.x[index], data.y[index]  # (B, ...), (B,) gathered on the device
        if augment is not None:  # once per batch, not once per chunk: fewer, larger operations
            step_key, augment_key = jax.random.split(step_key)
            x = augment(augment_key, x)

        def piece(so_far: tuple, rows: tuple) -> tuple[tuple, None]:
            """forward_backward of the rows x (R, ...), y (R,) as a piece of a batch of weight
            ``total``, added to the sums so far: (grads, model state, loss, correctly
            classified rows)."""
            grads, model_state, loss, hits = so_far
            x, y, weight, key = rows
            share = jnp.sum(weight) / jnp.maximum(total, 1e-12)  # this piece's part of the batch
            g, model_state, value, logits = forward_backward(
                model, params, model_state, x, y, key=key,
                loss=piece_loss(weight, share, label_smoothing),
            )  # fmt: skip
            right = (jnp.argmax(logits, axis=-1).astype(y.dtype) == y).astype(weight.dtype)
            return (jax.tree_util.tree_map(jnp.add, grads, g), model_state, loss + value,
                    hits + jnp.sum(weight * right)), None  # fmt: skip

        # The sums start at zero (0 + g is g exactly), so the forward and backward are compiled
        # once, in the scan's body.
        zero = jnp.zeros((), jnp.float32)
        start = (jax.tree_util.tree_map(jnp.zeros_like, params), state.model_state, zero,
                 zero.astype(weight.dtype))  # fmt: skip
        chunks = index.shape[0] // chunk_size(index.shape[0], micro_batch)
        if chunks == 1:
            (grads, model_state, loss, hits), _ = piece(start, (x, y, weight, step_key))
        else:  # micro-batches, two at a time (lax.scan, unrolled), their gradients summed
            rows = tuple(a.reshape(chunks, -1, *a.shape[1:]) for a in (x, y, weight))
            rows += (jax.random.split(step_key, chunks),)  # (chunks, R, ...) each
            if parallel:  # under shard_map the scan's carry must vary across devices, as the
                # body's output does, and zeros do not: the first chunk seeds it
                start, _ = piece(start, tuple(r[0] for r in rows))
                rows = tuple(r[1:] for r in rows)
            (grads, model_state, loss, hits), _ = lax.scan(
                piece, start, rows, unroll=CHUNKS_AT_ONCE
            )  # the sums still run in chunk order: the same numbers as one at a time
        if parallel:  # sum over the devices; BatchNorm's state is already the same on each
            grads, loss, hits = lax.psum((grads, loss, hits), AXIS)
        # 4. update, once for the whole batch
        updates, opt_state = optimizer.update(grads, state.opt_state, params)
        params = optax.apply_updates(params, updates)
        return TrainState(params, model_state, opt_state, key), sums.add(loss, hits, total)

    # XLA's older fusion emitters compile the step in about half the time, with the recipes'
    # bits, except where they round the warping augmentation's or BatchNorm's fused sums
    # differently (nn/runtime.py): steps with augmentation or batch statistics keep the defaults,
    # so that recorded runs stay reproducible
    same_bits = augment is None and not model.mixes_batch
    return jax.jit(
        sharded(mesh, step) if parallel else step, donate_argnums=(0, 1),
        compiler_options=step_options(mesh) if same_bits else None,
    )  # fmt: skip


def adam(lr: float | optax.Schedule) -> optax.GradientTransformation:
    """Adam with Keras's defaults (beta1 0.9, beta2 0.999, epsilon 1e-7)."""
    return optax.adam(lr, b1=0.9, b2=0.999, eps=1e-7)


def one_cycle(peak_lr: float, total_steps: int, warmup_fraction: float = 0.2) -> optax.Schedule:
    """One-cycle policy (Smith & Topin, as in fast.ai and PyTorch): the learning rate rises from
    peak/25 to the peak over the first 20% of the steps and falls to peak/2500 by the last,
    both along cosine curves (optax.cosine_onecycle_schedule)."""
    return optax.cosine_onecycle_schedule(
        total_steps, peak_lr, pct_start=warmup_fraction, div_factor=25.0, final_div_factor=100.0
    )


def init_state(
    model: Sequential, optimizer: optax.GradientTransformation, in_shape: tuple, *, seed: int
) -> TrainState:
    """Parameters, model state, optimizer state and PRNG key of a fresh run, built in one
    jitted call: op by op, each small initialiser is compiled separately (default CNN: 2.0 s op
    by op, 0.6 s here, on the CPU of BENCHMARKS.md), at the optimisation level that compiles
    fastest while giving the same weights (nn/runtime.py's INIT)."""

    def build(key: Array) -> TrainState:
        init_key, train_key = jax.random.split(key)
        params, model_state, _ = model.init(init_key, in_shape)
        return TrainState(params, model_state, optimizer.init(params), train_key)

    return jax.jit(build, compiler_options=INIT)(jax.random.key(seed))  # nn/runtime.py
