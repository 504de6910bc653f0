"""The same CNN in the peers people would use instead: PyTorch (CPU) and Keras 3 on its JAX
backend, with the same architecture, Glorot-uniform/zero initialisation, Adam and loss.
A peer that is not installed is skipped with a note, never an error."""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from nn import Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU, Sequential

# The Keras mnist_convnet: conv 32 3x3, pool 2, conv 64 3x3, pool 2, flatten, dropout 0.5, dense.
KERAS_CONVNET = "keras_convnet"


def keras_convnet() -> Sequential:
    """The Keras mnist_convnet in this project's layers (34,826 parameters, as in Keras)."""
    return Sequential([Conv2D(32, 3), ReLU(), MaxPool2D(2), Conv2D(64, 3), ReLU(), MaxPool2D(2),
                       Flatten(), Dropout(0.5), Dense(10)])  # fmt: skip


def torch_trainer(batch: int, x: np.ndarray, y: np.ndarray, lr: float = 1e-3) -> Callable | None:
    """A function that runs one training step of the PyTorch model per call (None if absent)."""
    try:
        import torch
        from torch import nn
    except ImportError:
        return None
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(1600, 10),
    )  # fmt: skip
    for m in model.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    opt = torch.optim.Adam(model.parameters(), lr=lr, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    xs = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))  # NCHW
    ys = torch.from_numpy(y.astype(np.int64))
    n, state = len(ys), {"i": 0}
    model.train()

    def step() -> float:
        i = state["i"]
        state["i"] = (i + batch) % (n - batch)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xs[i : i + batch]), ys[i : i + batch])
        loss.backward()
        opt.step()
        return loss

    step.model = model  # type: ignore[attr-defined]
    step.evaluate = lambda xt, yt: torch_accuracy(model, xt, yt)  # type: ignore[attr-defined]
    return step


def torch_accuracy(model, x: np.ndarray, y: np.ndarray) -> float:  # noqa: ANN001
    import torch

    model.eval()
    with torch.no_grad():
        xs = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
        pred = torch.cat([model(xs[i : i + 1000]).argmax(1) for i in range(0, len(xs), 1000)])
    model.train()
    return float((pred.numpy() == y).mean())


def keras_trainer(batch: int, x: np.ndarray, y: np.ndarray, steps: int) -> Callable | None:
    """A function that runs ``steps`` training steps of the Keras model (JAX backend) per call
    through ``model.fit`` (None if Keras is absent)."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    try:
        import keras
    except ImportError:
        return None
    if keras.backend.backend() != "jax":
        return None
    keras.utils.set_random_seed(0)
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Flatten(), layers.Dropout(0.5), layers.Dense(10),
    ])  # fmt: skip
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    xs, ys = x[: batch * steps], y[: batch * steps]

    def run() -> None:
        model.fit(xs, ys, batch_size=batch, epochs=1, verbose=0, shuffle=False)

    return run


def missing_note(name: str) -> str:
    return f"{name}: not installed, skipped (pip install -e '.[bench]')"
