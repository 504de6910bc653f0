"""The training step: forward, loss, backward, optimizer update.

Read this file in order. ``train_step`` is the textbook step, for one batch (x, y), in four
lines; ``forward_backward`` is its first three. Everything after them makes the same step fast
on real hardware. The gradient is the same, up to float rounding; what can differ is only where
random layers draw from (each micro-batch and each device draws its own dropout mask):

- ``make_train_step`` jits the step over data already on the device (each step gathers its rows
  there instead of copying a batch from the host), donates the state so that XLA updates the
  parameters and Adam's moments in place, applies the optional augmentation, and keeps the
  epoch's running sums on the device;
- ``micro_batched`` splits a batch into chunks on a CPU (where small chunks stay in its caches)
  and sums their gradients: the same gradient, computed in pieces;
- ``nn.parallel.sharded_gradients`` runs the same on every device of a mesh, each on its block
  of the batch, and sums the gradients over the devices.

The epoch loop around the step is nn/loop.py; evaluation is nn/evaluate.py.

Shapes: N examples, B batch size, K classes, R rows of one piece of a batch (a micro-batch, or
one device's block); X (N, ...) and Y (N,) live on the device.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax import lax
from jax.sharding import Mesh

from nn.batches import DeviceArrays
from nn.losses import softmax_cross_entropy, softmax_cross_entropy_backward
from nn.model import ModelParams, ModelState, Sequential
from nn.parallel import AXIS, sharded_gradients

Array = jax.Array


class TrainState(NamedTuple):
    params: ModelParams  # one dict of arrays per layer, learned by the optimizer
    model_state: ModelState  # one dict per layer, updated by the forward pass (BatchNorm's stats)
    opt_state: Any  # the optax optimizer's state, same leaves as params (Adam: mu, nu, count)
    key: Array  # PRNG key; split once per step for the step's random draws (dropout, augment)


def forward_backward(
    model: Sequential,
    params: ModelParams,
    model_state: ModelState,
    x: Array,
    y: Array,
    weight: Array | None = None,
    *,
    key: Array | None = None,
    label_smoothing: float = 0.0,
    share: Array | float = 1.0,
) -> tuple[ModelParams, ModelState, Array, Array]:
    """The gradient of the batch's mean loss: (grads, new model state, loss, logits (B, K)).
    When (x, y) is a piece of a larger batch, ``share`` is its part of that batch's weight: the
    gradient is then of the larger batch's mean loss (and the loss returned is share x this
    piece's mean loss), so that the pieces' gradients add up to the batch's."""
    # 1. forward: the logits, what each layer's backward needs, and the layers' new state
    logits, caches, model_state = model.forward(params, model_state, x, key=key, train=True)
    # 2. loss, and its gradient with respect to the logits
    loss, loss_cache = softmax_cross_entropy(logits, y, weight, label_smoothing=label_smoothing)
    dlogits = softmax_cross_entropy_backward(loss_cache) * share  # (B, K)
    # 3. backward: the chain rule through the layers, last to first
    grads, _ = model.backward(params, caches, dlogits)
    return grads, model_state, loss * share, logits


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


class EpochSums(NamedTuple):
    """Running totals of one epoch, kept on the device so that no step waits for the host."""

    loss: Array  # () float32, sum over steps of (batch loss x real examples in the batch)
    correct: Array  # () float32, correctly classified real examples
    count: Array  # () float32, real examples seen
    steps: Array  # () int32, steps taken
    first_bad: Array  # () int32, first step whose loss was NaN or infinite, -1 if none

    @staticmethod
    def zeros() -> EpochSums:
        f32 = lambda: jnp.zeros((), jnp.float32)  # noqa: E731  (distinct buffers: all donated)
        return EpochSums(f32(), f32(), f32(), jnp.zeros((), jnp.int32), jnp.full((), -1, jnp.int32))

    def add(self, loss: Array, hits: Array, real: Array) -> EpochSums:
        """The sums after one more step with mean loss ``loss`` over ``real`` examples."""
        bad = ~jnp.isfinite(loss) & (self.first_bad < 0)
        return EpochSums(
            loss=self.loss + loss * real,
            correct=self.correct + hits,
            count=self.count + real,
            steps=self.steps + 1,
            first_bad=jnp.where(bad, self.steps, self.first_bad),
        )


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
    by op, 0.7 s here, on the CPU of BENCHMARKS.md)."""

    def build(key: Array) -> TrainState:
        init_key, train_key = jax.random.split(key)
        params, model_state, _ = model.init(init_key, in_shape)
        return TrainState(params, model_state, optimizer.init(params), train_key)

    return jax.jit(build)(jax.random.key(seed))


# On a CPU, batches above this size are split into chunks of at most this many examples (see
# make_train_step). On the 2-core CPU of BENCHMARKS.md, 16 beat 32 by 5-13% at batch 128 and 512
# and by 1-5% at batch 32 (python -m benchmarks.train --micro-batch 16 32); 8 and 64 were slower.
MICRO_BATCH = 16


def default_micro_batch(platform: str) -> int | None:
    """MICRO_BATCH on a CPU, where small chunks keep the activations in its caches; None (the
    whole batch at once) on GPUs and TPUs, which need large batches to fill their cores."""
    return MICRO_BATCH if platform == "cpu" else None


MicroBatch = int | Literal["auto"] | None  # a chunk size, "auto", or None: whole batches


def resolve_micro_batch(micro_batch: MicroBatch, mesh: Mesh | None = None) -> int | None:
    """The chunk size that ``micro_batch`` stands for: "auto" is ``default_micro_batch`` of the
    platform of the mesh's devices (of the default device without a mesh)."""
    if micro_batch != "auto":
        return micro_batch
    device = mesh.devices.flat[0] if mesh is not None else jax.devices()[0]
    return default_micro_batch(device.platform)


def chunk_size(batch: int, micro_batch: int | None) -> int:
    """The largest divisor of ``batch`` that is at most ``micro_batch`` (the whole batch when
    micro-batching is off, the batch is small, or no divisor above micro_batch/2 exists)."""
    if not micro_batch or batch <= micro_batch:
        return batch
    best = max(d for d in range(1, micro_batch + 1) if batch % d == 0)
    return best if 2 * best >= micro_batch else batch


Augment = Callable[[Array, Array], Array]  # augment(key, x (C, H, W, Ch)) -> x, same shape
# Gradients of some rows of the data: (params, model_state, data, index, weight, total, key)
# -> (grads, model_state, loss, hits), each scaled by the rows' share of ``total``, the weight
# of the whole batch, so that the sums over the pieces of a batch are the batch's values.
RowsGradients = Callable[..., tuple[ModelParams, ModelState, Array, Array]]


def rows_gradients(
    model: Sequential, *, augment: Augment | None = None, label_smoothing: float = 0.0
) -> RowsGradients:
    """``forward_backward`` of the rows ``index`` of the device-resident data, gathered on the
    device and (with ``augment``) augmented there, scaled by their share of the batch. The
    scale enters at the logits, before the backward: a layer whose backward mixes the rows of
    the whole batch (BatchNorm over several devices) then sees every piece at the same scale."""

    def grads_of_rows(
        params: ModelParams,
        model_state: ModelState,
        data: DeviceArrays,
        index: Array,
        weight: Array,
        total: Array,
        key: Array,
    ) -> tuple[ModelParams, ModelState, Array, Array]:
        x, y = data.x[index], data.y[index]  # (R, ...), (R,) gathered on the device
        if augment is not None:  # without it, the layers get the key train_step would give them
            key, augment_key = jax.random.split(key)
            x = augment(augment_key, x)
        share = jnp.sum(weight) / jnp.maximum(total, 1e-12)  # this piece's part of the batch
        grads, model_state, loss, logits = forward_backward(
            model, params, model_state, x, y, weight,
            key=key, label_smoothing=label_smoothing, share=share,
        )  # fmt: skip
        right = jnp.argmax(logits, axis=-1).astype(y.dtype) == y
        hits = jnp.sum(weight * right.astype(weight.dtype))
        return grads, model_state, loss, hits

    return grads_of_rows


def micro_batched(grads_of_rows: RowsGradients, micro_batch: int | None) -> RowsGradients:
    """The same function, computed in chunks of ``chunk_size(rows, micro_batch)`` rows one after
    the other (``lax.scan``) and summed. Only the working set shrinks: the activations of a chunk
    stay in the CPU's caches (large batches otherwise run up to 3x slower per image). The model
    state is threaded through the chunks in order, so a stateful layer that does not mix the
    batch would update once per chunk; the layers that mix it (BatchNorm) never get here,
    because ``make_train_step`` turns chunking off for them."""

    def chunked(
        params: ModelParams,
        model_state: ModelState,
        data: DeviceArrays,
        index: Array,
        weight: Array,
        total: Array,
        key: Array,
    ) -> tuple[ModelParams, ModelState, Array, Array]:
        c = chunk_size(index.shape[0], micro_batch)
        if c == index.shape[0]:
            return grads_of_rows(params, model_state, data, index, weight, total, key)
        chunks = index.shape[0] // c
        idx, w = index.reshape(chunks, c), weight.reshape(chunks, c)
        keys = jax.random.split(key, chunks)

        def body(carry: tuple, inp: tuple) -> tuple[tuple, None]:
            g_acc, state, l_acc, h_acc = carry
            idx, w, k = inp
            g, state, l, h = grads_of_rows(params, state, data, idx, w, total, k)
            return (jax.tree_util.tree_map(jnp.add, g_acc, g), state, l_acc + l, h_acc + h), None

        # The first chunk seeds the running sums, so the carry has the body's own type (under
        # shard_map: varying across devices, which a zero-initialised carry would not be).
        first = grads_of_rows(params, model_state, data, idx[0], w[0], total, keys[0])
        (grads, model_state, loss, hits), _ = lax.scan(body, first, (idx[1:], w[1:], keys[1:]))
        return grads, model_state, loss, hits

    return chunked


def make_train_step(
    model: Sequential,
    optimizer: optax.GradientTransformation,
    *,
    micro_batch: MicroBatch = "auto",
    mesh: Mesh | None = None,
    augment: Augment | None = None,
    label_smoothing: float = 0.0,
) -> Callable[..., tuple[TrainState, EpochSums]]:
    """step(state, sums, data, index, weight) -> (state, sums), jitted, with the state and the
    sums donated so that XLA updates the parameters and Adam's moments in place.

    The rows ``index`` of ``data`` (weight 0 marks padding rows) are gathered on the device and
    augmented with ``augment`` (if given). On a CPU a batch larger than ``micro_batch`` ("auto":
    ``default_micro_batch`` of the devices' platform) is processed in chunks (``micro_batched``)
    whose gradients are summed before the single optimizer update. A model with batch statistics
    (BatchNorm) is never split into chunks: its layers must see the whole batch.

    With a ``mesh`` of several devices each device does this for its block of the batch and the
    gradients are summed across devices (nn/parallel.py); layers with batch statistics reduce over
    the mesh axis, so they too see the whole batch.

    Padding. Weight-0 rows (a padded last batch, or a batch padded to a multiple of the device
    count) change no gradient of a model whose examples are independent. BatchNorm, though,
    normalises every row it is given, padding included: give a model with batch statistics full
    batches of real rows (drop the last partial batch, and use a batch size that the device
    count divides; the experiments check this).
    """
    micro_batch = None if model.mixes_batch else resolve_micro_batch(micro_batch, mesh)
    parallel = mesh is not None and mesh.size > 1
    if parallel:
        model = model.with_axis_name(AXIS)
    rows = rows_gradients(model, augment=augment, label_smoothing=label_smoothing)
    block = micro_batched(rows, micro_batch)
    if parallel:
        gradients = sharded_gradients(mesh, block)
    else:

        def gradients(params, model_state, data, index, weight, key):  # noqa: ANN001, ANN202
            total = jnp.sum(weight)
            return (*block(params, model_state, data, index, weight, total, key), total)

    def step(
        state: TrainState, sums: EpochSums, data: DeviceArrays, index: Array, weight: Array
    ) -> tuple[TrainState, EpochSums]:
        key, step_key = jax.random.split(state.key)
        grads, model_state, loss, hits, real = gradients(
            state.params, state.model_state, data, index, weight, step_key
        )
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        return TrainState(params, model_state, opt_state, key), sums.add(loss, hits, real)

    return jax.jit(step, donate_argnums=(0, 1))
