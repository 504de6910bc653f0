"""Micro-batching: on a CPU, a batch is processed in chunks whose activations stay in the
caches, and their gradients are summed before the single optimizer update (nn/train.py's
``make_train_step``). The gradient is the same, computed in pieces; only the speed changes.
"""

from __future__ import annotations

from typing import Literal

from jax.sharding import Mesh

from nn.runtime import device_platform

# On a CPU, batches above this size are split into chunks of at most this many examples. On the
# 2-core CPU of BENCHMARKS.md, 16 beat 32 by 5-13% at batch 128 and 512 and by 1-5% at batch 32
# (python -m benchmarks.train --micro-batch 16 32); 8 and 64 were slower.
MICRO_BATCH = 16

# Chunks per iteration of the loop over them (``lax.scan``'s ``unroll``): with two chunks in one
# iteration, whose forward and backward passes do not depend on each other, XLA's CPU runtime
# runs the operations of one chunk while the other's wait, instead of one small operation at a
# time. On the 2-core CPU of BENCHMARKS.md ("Two chunks at a time"), the whole step, alternating
# with one chunk at a time in one process: default CNN 1.07-1.20x at batch 128 and 512 (1.02-1.09x
# with the augmentation; at batch 32, two chunks, 0.95-1.08x: noise), experiments.fast's network
# 1.22x at 128; the Keras convnet, whose larger operations already fill both cores, 0.87-1.03x.
# Four at a time, or the whole batch unrolled, were slower (0.94x, 0.47x on the default CNN).
CHUNKS_AT_ONCE = 2


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
    return default_micro_batch(device_platform(mesh))


def step_micro_batch(
    micro_batch: MicroBatch, *, mixes_batch: bool, mesh: Mesh | None = None
) -> int | None:
    """The chunk limit of a train step: None (whole batches) for a model with batch statistics,
    whose layers must see the whole batch; ``resolve_micro_batch`` otherwise."""
    return None if mixes_batch else resolve_micro_batch(micro_batch, mesh)


def chunk_size(batch: int, micro_batch: int | None) -> int:
    """The largest divisor of ``batch`` that is at most ``micro_batch`` (the whole batch when
    micro-batching is off, the batch is small, or no divisor above micro_batch/2 exists)."""
    if not micro_batch or batch <= micro_batch:
        return batch
    best = max(d for d in range(1, micro_batch + 1) if batch % d == 0)
    return best if 2 * best >= micro_batch else batch
