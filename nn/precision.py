"""Mixed precision: the layers' matrix products in bfloat16, everything else in float32.

    "f32"   every product in float32 (the default)
    "bf16"  the operands of every conv and dense product are rounded to bfloat16 (8 bits of
            mantissa instead of 24) and multiplied with float32 accumulation and a float32
            result (``preferred_element_type``), forward and backward: y = P @ W,
            dW = P.T @ dy and dP = dy @ W.T. Parameters, their gradients, the optimizer's state,
            BatchNorm, the loss and every sum outside a product stay float32.

This is what PyTorch's ``torch.autocast(device_type="cpu", dtype=torch.bfloat16)`` and Keras's
``mixed_bfloat16`` policy do to a convolution or a dense layer, except that our input gradient
dP leaves its product in float32 rather than bfloat16. The backward stays the hand-written one:
each product of the derivation (nn/conv.py, nn/dense.py) is computed by ``matmul`` below, so
the gradient is that of the bf16 forward up to bfloat16 rounding of dy. The master weights are
float32, so updates smaller than a bfloat16 step still accumulate.

A model's layers choose their precision with ``with_precision`` (a field of Conv2D and Dense).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import jax.numpy as jnp
from jax import lax

from nn.layer import Array
from nn.model import Sequential

Precision = Literal["f32", "bf16"]
PRECISIONS: tuple[str, ...] = ("f32", "bf16")


def operand(x: Array, precision: Precision) -> Array:
    """``x`` as a product operand: unchanged in f32, rounded to bfloat16 in bf16."""
    return x if precision == "f32" else x.astype(jnp.bfloat16)


def matmul(a: Array, b: Array, precision: Precision) -> Array:
    """a @ b, contracting a's last axis with b's first. "f32": the plain float32 product;
    "bf16": bfloat16 operands, float32 accumulation and result."""
    if precision == "f32":
        return a @ b
    dims = (((a.ndim - 1,), (0,)), ((), ()))
    return lax.dot_general(
        operand(a, precision), operand(b, precision), dims, preferred_element_type=jnp.float32
    )


def check_precision(name: str, precision: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"{name} precision must be one of {PRECISIONS}, got {precision!r}")


def with_precision(model: Sequential, precision: Precision) -> Sequential:
    """The same model with every layer that has a ``precision`` field (Conv2D, Dense) computing
    its products in ``precision``; the parameters and their shapes do not change."""
    check_precision("model", precision)
    return Sequential([
        dataclasses.replace(layer, precision=precision)
        if hasattr(layer, "precision") else layer
        for layer in model.layers
    ])  # fmt: skip
