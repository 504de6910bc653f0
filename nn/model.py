"""Sequential model: a list of layers applied in order, with the chain rule applied in reverse.

params = (params_0, params_1, ...)       one dict per layer, trained by the optimizer
state  = (state_0, state_1, ...)         one dict per layer, updated by the forward pass
caches = (cache_0, cache_1, ...)         what each layer's backward needs
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jax

from nn.layer import Array, Layer, Params, Shape, State

ModelParams = tuple[Params, ...]
ModelState = tuple[State, ...]


@dataclass(frozen=True)
class Sequential:
    layers: tuple[Layer, ...]

    def __init__(self, layers: Sequence[Layer]) -> None:
        object.__setattr__(self, "layers", tuple(layers))

    def init(self, key: Array, in_shape: Shape) -> tuple[ModelParams, ModelState, list[Shape]]:
        """Parameters and state of every layer, and the output shape after each layer (batch
        excluded)."""
        keys = jax.random.split(key, len(self.layers))
        params, states, shapes, shape = [], [], [], tuple(in_shape)
        for layer, k in zip(self.layers, keys, strict=True):
            p, s, shape = layer.init(k, shape)
            params.append(p)
            states.append(s)
            shapes.append(shape)
        return tuple(params), tuple(states), shapes

    def forward(
        self,
        params: ModelParams,
        state: ModelState,
        x: Array,
        *,
        key: Array | None = None,
        train: bool = False,
    ) -> tuple[Array, tuple[Any, ...], ModelState]:
        """Run every layer in order; return the output, every layer's cache, and the new state.
        In training mode each layer gets its own key, split from ``key`` (layers without
        randomness ignore it); in evaluation mode no key is needed."""
        keys = jax.random.split(key, len(self.layers)) if train and key is not None else None
        caches, new_state = [], []
        for i, (layer, p, s) in enumerate(zip(self.layers, params, state, strict=True)):
            x, cache, s = layer.forward(p, s, x, key=None if keys is None else keys[i], train=train)
            caches.append(cache)
            new_state.append(s)
        return x, tuple(caches), tuple(new_state)

    def backward(
        self, params: ModelParams, caches: tuple[Any, ...], dout: Array
    ) -> tuple[ModelParams, Array]:
        """Go in the reverse order of the forward pass: each layer turns dL/d(its output) into
        dL/d(its params) and dL/d(its input), which is the next (earlier) layer's upstream."""
        grads: list[Params] = [{}] * len(self.layers)
        for i in reversed(range(len(self.layers))):
            grads[i], dout = self.layers[i].backward(params[i], caches[i], dout)
        return tuple(grads), dout

    @property
    def mixes_batch(self) -> bool:
        """Whether a training forward mixes the examples of a batch (a layer with batch
        statistics, which declares an ``axis_name``): such a batch cannot be split into
        independent chunks."""
        return any(hasattr(layer, "axis_name") for layer in self.layers)

    def with_axis_name(self, axis_name: str | None) -> Sequential:
        """The same model with every batch-statistics layer reducing over the mesh axis
        ``axis_name`` (data parallelism: statistics of the global batch, not of one block)."""
        return Sequential([
            dataclasses.replace(layer, axis_name=axis_name)
            if hasattr(layer, "axis_name") else layer
            for layer in self.layers
        ])  # fmt: skip

    def summary(self, in_shape: Shape, params: ModelParams | None = None) -> str:
        """A table like Keras's ``model.summary()``: layer, output shape, parameter count (the
        trainable parameters and the non-trainable state together, as Keras counts them)."""
        abstract_params, abstract_state, shapes = self.abstract_init(in_shape)
        params = abstract_params if params is None else params
        names: dict[str, int] = {}
        rows = []
        for layer, p, s, shape in zip(self.layers, params, abstract_state, shapes, strict=True):
            kind = type(layer).__name__
            names[kind] = names.get(kind, 0) + 1
            rows.append(
                (
                    f"{kind.lower()}_{names[kind]} ({kind})",
                    f"(None, {_dims(shape)})",
                    count_params(p) + count_params(s),
                )
            )
        trainable, fixed = count_params(params), count_params(abstract_state)
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
            f"Total params: {trainable + fixed:,}",
            f"Trainable params: {trainable:,}",
            f"Non-trainable params: {fixed:,}",
            "_" * sum(width),
        ]
        return "\n".join(lines)

    def abstract_init(self, in_shape: Shape) -> tuple[Any, Any, list[Shape]]:
        """Parameter and state shapes (as ShapeDtypeStructs) and output shapes, without
        computing."""
        shapes: list[Shape] = []

        def go() -> tuple[ModelParams, ModelState]:
            params, state, out = self.init(jax.random.key(0), in_shape)
            shapes.extend(out)  # plain ints, captured outside the trace
            return params, state

        params, state = jax.eval_shape(go)
        return params, state, shapes


def _dims(shape: Shape) -> str:
    return ", ".join(str(d) for d in shape)


def count_params(tree: Any) -> int:
    """Total number of scalars in a tree of arrays (parameters or state)."""
    return sum(math.prod(v.shape) for v in jax.tree_util.tree_leaves(tree))
