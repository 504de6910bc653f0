"""What a training step must compute: the matrix products of every conv and dense layer, their
FLOPs per training image, this machine's matmul peak, and the ceiling a step made of nothing but
those products would reach (benchmarks/train.py reports our throughput against them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from benchmarks.timing import block, median_seconds
from nn import Conv2D, Dense, Sequential
from nn.layer import pair
from nn.micro_batch import MicroBatch, chunk_size, step_micro_batch


class Product(NamedTuple):
    """One layer's matrix product per training image: (rows x depth) @ (depth x cols). A conv
    layer has one row per output pixel (its im2col matrix); a dense layer one row."""

    rows: int
    depth: int
    cols: int
    first: bool  # the model's first product: its input gradient is never computed


def products(model: Sequential, in_shape: tuple) -> list[Product]:
    _, _, shapes = model.abstract_init(in_shape)
    found: list[Product] = []
    shape = tuple(in_shape)
    for layer, out in zip(model.layers, shapes, strict=True):
        if isinstance(layer, Conv2D):
            kh, kw = pair(layer.kernel_size)
            found.append(Product(out[0] * out[1], kh * kw * shape[2], out[2], not found))
        elif isinstance(layer, Dense):
            found.append(Product(1, shape[0], out[0], not found))
        shape = out
    return found


def training_flops(model: Sequential, in_shape: tuple) -> int:
    """Multiply-adds x 2 of one training image: each conv and dense layer costs its forward
    product, the weight gradient (same size), and the input gradient (same size) except for the
    first layer, whose input gradient is never computed. Pooling, ReLU and the loss are
    elementwise and left out."""
    return sum(
        2 * p.rows * p.depth * p.cols * (2 if p.first else 3) for p in products(model, in_shape)
    )


def matmul_products(dtype: str = "f32", n: int = 1024, reps: int = 1) -> Callable[[], object]:
    """A function that runs ``reps`` n x n x n products through XLA and waits for them (2 n^3
    FLOPs each): float32, or ("bf16") bfloat16 operands with float32 accumulation and result,
    as nn/precision.py's."""
    a = jnp.asarray(np.random.default_rng(0).standard_normal((n, n)), jnp.float32)
    if dtype == "bf16":
        a = a.astype(jnp.bfloat16)
    f = jax.jit(lambda a, b: lax.dot(a, b, preferred_element_type=jnp.float32))
    return lambda: [block(f(a, a)) for _ in range(reps)]


def matmul_peak(n: int = 1024, dtype: str = "f32") -> float:
    """Measured matmul FLOP/s of this machine through XLA (an n x n x n product)."""
    seconds = median_seconds(matmul_products(dtype, n), windows=5, min_window=0.3)
    return 2 * n**3 / seconds


def matmul_ceiling(
    model: Sequential, in_shape: tuple, batch: int, micro_batch: MicroBatch
) -> float:
    """Images per second if a training step were nothing but its matrix products: every
    layer's forward, weight-gradient and input-gradient products, in the layouts the layers use
    (P @ W, P.T @ dy, dy @ W.T), at the shapes of one micro-batch chunk, in one jitted call. No
    implementation built on these XLA products can train faster, whatever it does elsewhere."""
    chunk = chunk_size(batch, step_micro_batch(micro_batch, mixes_batch=model.mixes_batch))
    rng = np.random.default_rng(0)
    found = products(model, in_shape)
    operands = []
    for p in found:
        m = chunk * p.rows
        operands.append(
            tuple(
                jnp.asarray(rng.standard_normal(s), jnp.float32)
                for s in ((m, p.depth), (p.depth, p.cols), (m, p.cols))
            )
        )
    firsts = [p.first for p in found]

    @jax.jit
    def only_products(operands: list) -> list:
        out = []
        for (x, w, dy), first in zip(operands, firsts, strict=True):
            out += [x @ w, x.T @ dy] + ([] if first else [dy @ w.T])
        return out

    seconds = median_seconds(lambda: block(only_products(operands)), windows=5, min_window=0.2)
    return chunk / seconds
