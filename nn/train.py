"""The training loop shared by every experiment: a jitted step (forward, loss, explicit backward,
optax update) gathering its batches from arrays already on the device, and the epoch around it.
Evaluation is in nn/evaluate.py.

Shapes: N examples, B batch size, K classes; X (N, ...) and Y (N,) live on the device.
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
from nn.model import ModelParams, Sequential
from nn.parallel import sharded_gradients

Array = jax.Array


class TrainState(NamedTuple):
    params: ModelParams  # one dict of arrays per layer
    opt_state: Any  # the optax optimizer's state, same leaves as params (Adam: mu, nu, count)
    key: Array  # PRNG key; split once per step for the step's dropout masks


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
    """Parameters, optimizer state and PRNG key of a fresh run, built in one jitted call: op by
    op, each small initialiser is compiled separately (default CNN: 2.0 s op by op, 0.7 s here,
    on the CPU of BENCHMARKS.md)."""

    def build(key: Array) -> TrainState:
        init_key, train_key = jax.random.split(key)
        params, _ = model.init(init_key, in_shape)
        return TrainState(params, optimizer.init(params), train_key)

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


def make_train_step(
    model: Sequential,
    optimizer: optax.GradientTransformation,
    *,
    micro_batch: MicroBatch = "auto",
    mesh: Mesh | None = None,
) -> Callable[..., tuple[TrainState, EpochSums]]:
    """step(state, sums, data, index, weight) -> (state, sums), jitted, with the state and the
    sums donated so that XLA updates the parameters and Adam's moments in place.

    A batch larger than ``micro_batch`` ("auto": ``default_micro_batch`` of the devices' platform)
    is processed in chunks of at most that size, one after the other (``lax.scan``), and their
    gradients are summed before the single optimizer update.
    Each chunk's loss gradient is scaled by its share of the batch's weight, so the result is the
    gradient of the whole batch's mean loss; only the working set shrinks, which keeps the
    activations in the CPU's caches (large batches otherwise run up to 3x slower per image).

    With a ``mesh`` of several devices, each device does this for its block of the batch and the
    gradients are summed across devices (nn/parallel.py); everything else is unchanged.
    """
    micro_batch = resolve_micro_batch(micro_batch, mesh)

    def chunk_grads(
        params: ModelParams,
        data: DeviceArrays,
        index: Array,
        weight: Array,
        share: Array,
        key: Array,
    ) -> tuple[ModelParams, Array, Array]:
        x, y = data.x[index], data.y[index]  # (C, ...), (C,) gathered on the device
        logits, caches = model.forward(params, x, key=key, train=True)
        loss, loss_cache = softmax_cross_entropy(logits, y, weight)
        dlogits = softmax_cross_entropy_backward(loss_cache) * share  # d(batch loss)/d logits
        grads, _ = model.backward(params, caches, dlogits)
        right = jnp.argmax(logits, axis=-1).astype(y.dtype) == y
        hits = jnp.sum(weight * right.astype(weight.dtype))
        return grads, loss * share, hits

    def block_grads(
        params: ModelParams,
        data: DeviceArrays,
        index: Array,
        weight: Array,
        total: Array,
        key: Array,
    ) -> tuple[ModelParams, Array, Array]:
        """Gradient, loss and hits of the rows ``index``, each chunk scaled by its share of
        ``total``, the weight of the whole (global) batch."""
        c = chunk_size(index.shape[0], micro_batch)
        if c == index.shape[0]:
            share = jnp.sum(weight) / jnp.maximum(total, 1e-12)
            return chunk_grads(params, data, index, weight, share, key)
        chunks = index.shape[0] // c

        def body(carry: tuple, inp: tuple) -> tuple[tuple, None]:
            g_acc, l_acc, h_acc = carry
            idx, w, k = inp
            share = jnp.sum(w) / jnp.maximum(total, 1e-12)
            g, l, h = chunk_grads(params, data, idx, w, share, k)
            return (jax.tree_util.tree_map(jnp.add, g_acc, g), l_acc + l, h_acc + h), None

        idx, w = index.reshape(chunks, c), weight.reshape(chunks, c)
        keys = jax.random.split(key, chunks)
        # The first chunk seeds the running sums, so the carry has the body's own type (under
        # shard_map: varying across devices, which a zero-initialised carry would not be).
        share = jnp.sum(w[0]) / jnp.maximum(total, 1e-12)
        first = chunk_grads(params, data, idx[0], w[0], share, keys[0])
        (grads, loss, hits), _ = lax.scan(body, first, (idx[1:], w[1:], keys[1:]))
        return grads, loss, hits

    if mesh is not None and mesh.size > 1:
        gradients = sharded_gradients(mesh, block_grads)
    else:

        def gradients(params, data, index, weight, key):  # noqa: ANN001, ANN202
            total = jnp.sum(weight)
            return (*block_grads(params, data, index, weight, total, key), total)

    def step(
        state: TrainState, sums: EpochSums, data: DeviceArrays, index: Array, weight: Array
    ) -> tuple[TrainState, EpochSums]:
        key, dropout_key = jax.random.split(state.key)
        grads, loss, hit, real = gradients(state.params, data, index, weight, dropout_key)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)

        bad = ~jnp.isfinite(loss) & (sums.first_bad < 0)
        sums = EpochSums(
            loss=sums.loss + loss * real,
            correct=sums.correct + hit,
            count=sums.count + real,
            steps=sums.steps + 1,
            first_bad=jnp.where(bad, sums.steps, sums.first_bad),
        )
        return TrainState(params, opt_state, key), sums

    return jax.jit(step, donate_argnums=(0, 1))
