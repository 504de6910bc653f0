"""Sequential model: a list of layers applied in order, with the chain rule applied in reverse.

params = (params_0, params_1, ...)       one entry per layer (an empty dict if it has none)
caches = (cache_0, cache_1, ...)         what each layer's backward needs
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jax

from nn.dropout import Dropout
from nn.layer import Array, Layer, Params, Shape

ModelParams = tuple[Params, ...]


@dataclass(frozen=True)
class Sequential:
    layers: tuple[Layer, ...]

    def __init__(self, layers: Sequence[Layer]) -> None:
        object.__setattr__(self, "layers", tuple(layers))

    def init(self, key: Array, in_shape: Shape) -> tuple[ModelParams, list[Shape]]:
        """Parameters of every layer, and the output shape after each layer (batch excluded)."""
        keys = jax.random.split(key, len(self.layers))
        params, shapes, shape = [], [], tuple(in_shape)
        for layer, k in zip(self.layers, keys, strict=True):
            p, shape = layer.init(k, shape)
            params.append(p)
            shapes.append(shape)
        return tuple(params), shapes

    def forward(
        self, params: ModelParams, x: Array, *, key: Array | None = None, train: bool = False
    ) -> tuple[Array, tuple[Any, ...]]:
        """Run every layer in order. In training mode each Dropout gets its own key, split
        from ``key``; in evaluation mode no key is needed."""
        n_random = sum(isinstance(layer, Dropout) for layer in self.layers)
        if train and n_random and key is None:
            raise ValueError("training a model with Dropout needs a PRNG key (key=...)")
        keys = iter(jax.random.split(key, n_random)) if train and n_random else iter(())
        caches = []
        for layer, p in zip(self.layers, params, strict=True):
            layer_key = next(keys) if train and isinstance(layer, Dropout) else None
            x, cache = layer.forward(p, x, key=layer_key, train=train)
            caches.append(cache)
        return x, tuple(caches)

    def backward(
        self, params: ModelParams, caches: tuple[Any, ...], dout: Array
    ) -> tuple[ModelParams, Array]:
        """Go in the reverse order of the forward pass: each layer turns dL/d(its output) into
        dL/d(its params) and dL/d(its input), which is the next (earlier) layer's upstream."""
        grads: list[Params] = [{}] * len(self.layers)
        for i in reversed(range(len(self.layers))):
            grads[i], dout = self.layers[i].backward(params[i], caches[i], dout)
        return tuple(grads), dout

    def summary(self, in_shape: Shape, params: ModelParams | None = None) -> str:
        """A table like Keras's ``model.summary()``: layer, output shape, parameter count."""
        abstract_params, shapes = self.abstract_init(in_shape)
        params = abstract_params if params is None else params
        names: dict[str, int] = {}
        rows = []
        for layer, p, shape in zip(self.layers, params, shapes, strict=True):
            kind = type(layer).__name__
            names[kind] = names.get(kind, 0) + 1
            count = sum(math.prod(v.shape) for v in jax.tree_util.tree_leaves(p))
            rows.append(
                (f"{kind.lower()}_{names[kind]} ({kind})", f"(None, {_dims(shape)})", count)
            )
        total = sum(r[2] for r in rows)
        width = (34, 26, 12)
        rule = "=" * sum(width)
        lines = [
            "Model: sequential",
            "_" * sum(width),
            f"{'Layer (type)':<{width[0]}}{'Output Shape':<{width[1]}}{'Param #':>{width[2]}}",
            rule,
        ]
        lines += [f"{a:<{width[0]}}{b:<{width[1]}}{c:>{width[2]},}" for a, b, c in rows]
        lines += [
            rule,
            f"Total params: {total:,}",
            f"Trainable params: {total:,}",
            "Non-trainable params: 0",
            "_" * sum(width),
        ]
        return "\n".join(lines)

    def abstract_init(self, in_shape: Shape) -> tuple[Any, list[Shape]]:
        """Parameter shapes (as ShapeDtypeStructs) and output shapes, without computing."""
        shapes: list[Shape] = []

        def go() -> ModelParams:
            params, out = self.init(jax.random.key(0), in_shape)
            shapes.extend(out)  # plain ints, captured outside the trace
            return params

        return jax.eval_shape(go), shapes


def _dims(shape: Shape) -> str:
    return ", ".join(str(d) for d in shape)


def count_params(params: ModelParams) -> int:
    """Total number of scalars in a parameter tree."""
    return sum(math.prod(v.shape) for v in jax.tree_util.tree_leaves(params))
