"""Our networks in the peers people would use instead: PyTorch (CPU), translated layer by layer
from any of our recipes' networks, and Keras 3 on its JAX backend (the Keras convnet), with the
same architecture, Glorot-uniform/zero initialisation, Adam and loss.
A peer that is not installed is skipped with a note, never an error. ``MODELS`` names the
networks the benchmarks time."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np

from experiments.recipes import best, cnn, fast
from nn import BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU, Sequential
from nn.layer import pair

# The Keras mnist_convnet: conv 32 3x3, pool 2, conv 64 3x3, pool 2, flatten, dropout 0.5, dense.
KERAS_CONVNET = "keras_convnet"


def keras_convnet() -> Sequential:
    """The Keras mnist_convnet in this project's layers (34,826 parameters, as in Keras)."""
    return Sequential([Conv2D(32, 3), ReLU(), MaxPool2D(2), Conv2D(64, 3), ReLU(), MaxPool2D(2),
                       Flatten(), Dropout(0.5), Dense(10)])  # fmt: skip


# The networks the benchmarks time (benchmarks.train, benchmarks.step_profile), by name
MODELS: dict[str, Callable[[], Sequential]] = {
    KERAS_CONVNET: keras_convnet,
    "default": lambda: cnn.build_model(10),  # experiments.cnn
    "fast": lambda: fast.build_model(10),  # experiments.fast
    "best": lambda: best.build_model(10),  # experiments.best
}


def torch_model(  # noqa: ANN201  (a torch.nn.Sequential)
    model: Sequential, in_shape: tuple[int, int, int], shapes: list | None = None
):
    """The same network in PyTorch, layer for layer (NCHW inside; flattened in NHWC order, as
    ours), with Glorot-uniform weights and zero biases. BatchNorm gets Keras's momentum and
    epsilon. Only the layers our recipes use are translated; others raise ValueError.
    ``shapes``: every layer's output shape (``model.abstract_init(in_shape)[2]``), if known."""
    import torch
    from torch import nn

    class NhwcFlatten(nn.Module):
        """(N, C, H, W) -> (N, H*W*C): the order our Flatten gives an (N, H, W, C) input."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.permute(0, 2, 3, 1).flatten(1)

    shapes = shapes or model.abstract_init(in_shape)[2]  # the output shape of every layer
    modules, shape = [], in_shape
    for layer, out in zip(model.layers, shapes, strict=True):
        if isinstance(layer, Conv2D):
            (kh, kw), (sh, sw) = pair(layer.kernel_size), pair(layer.strides)
            (pt, pb), (pl, pr) = layer.pads(shape[0], shape[1])
            if pt or pb or pl or pr:  # "same" may pad unevenly (Keras): pad explicitly
                modules.append(nn.ZeroPad2d((pl, pr, pt, pb)))
            modules.append(
                nn.Conv2d(shape[2], layer.filters, (kh, kw), (sh, sw), bias=layer.use_bias)
            )
        elif isinstance(layer, Dense):
            modules.append(nn.Linear(shape[0], layer.units, bias=layer.use_bias))
        elif isinstance(layer, BatchNorm):
            norm = nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d
            modules.append(norm(shape[-1], eps=layer.epsilon, momentum=1 - layer.momentum))
        elif isinstance(layer, MaxPool2D):
            (ph, pw), stride = pair(layer.pool_size), layer.stride_pair
            modules.append(nn.MaxPool2d((ph, pw), stride))
        elif isinstance(layer, ReLU):
            modules.append(nn.ReLU())
        elif isinstance(layer, Dropout):
            modules.append(nn.Dropout(layer.rate))
        elif isinstance(layer, Flatten):
            modules.append(NhwcFlatten())
        else:
            raise ValueError(f"no PyTorch translation for {layer!r}")
        shape = out
    net = nn.Sequential(*modules)
    for m in net.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return net


def torch_trainer(
    batch: int,
    x: np.ndarray,
    y: np.ndarray,
    lr: float = 1e-3,
    *,
    model: Sequential | None = None,
    shapes: list | None = None,
    rates: Sequence[float] | None = None,
    seed: int = 0,
    autocast: bool = False,
) -> Callable | None:
    """A function that runs one training step of the PyTorch model per call (None if absent).

    ``model``: our network to translate (default: the Keras mnist_convnet; ``shapes`` as in
    ``torch_model``). ``rates``: the learning rate of every step (e.g. our one-cycle schedule's,
    ``nn.train.one_cycle``, evaluated step by step), applied through ``LambdaLR`` so that both
    frameworks follow the same numbers; without, ``lr`` is constant. Adam has Keras's epsilon,
    as ours. Every epoch visits the training set in a new random order, in full batches.
    ``autocast``: the forward pass (and so its backward) under ``torch.autocast("cpu",
    torch.bfloat16)``, PyTorch's mixed precision, the peer of our ``--precision bf16``.
    """
    try:
        import torch
        from torch import nn
    except ImportError:
        return None
    torch.manual_seed(seed)
    net = torch_model(model or keras_convnet(), tuple(x.shape[1:]), shapes)
    opt = torch.optim.Adam(net.parameters(), lr=lr, eps=1e-7)
    sched = None
    if rates is not None:
        rates = np.asarray(rates, np.float64)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda step: rates[min(step, len(rates) - 1)] / lr
        )
    loss_fn = nn.CrossEntropyLoss()
    xs = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))  # NCHW
    ys = torch.from_numpy(y.astype(np.int64))
    n, state = len(ys), {"i": 0, "order": torch.randperm(len(ys))}
    net.train()

    def step() -> torch.Tensor:
        i = state["i"]
        if i + batch > n:  # the epoch's last partial batch is dropped, as ours
            i, state["order"] = 0, torch.randperm(n)
        rows = state["order"][i : i + batch]
        state["i"] = i + batch
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = loss_fn(net(xs[rows]), ys[rows])
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        return loss

    step.model = net  # type: ignore[attr-defined]
    step.optimizer = opt  # type: ignore[attr-defined]
    step.evaluate = lambda xt, yt: torch_accuracy(net, xt, yt)  # type: ignore[attr-defined]
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
