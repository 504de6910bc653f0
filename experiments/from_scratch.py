"""A convolutional network trained on MNIST in one file, from the library's parts: the layers'
hand-written forward and backward passes, the textbook train step, and a loop.

    python -m experiments.from_scratch [--epochs N] [--subset N] [--data-dir DIR]

Read it top to bottom; then follow the step into the library, four functions deep:

    train_step           nn/train.py   forward, loss, backward, update
    forward_backward     nn/train.py   the model forward, the loss's gradient, the model backward
    Sequential.backward  nn/model.py   every layer's backward, last layer first
    Conv2D.backward      nn/conv.py    dL/dw, dL/db and dL/dx of a convolution, derived

experiments.cnn trains the same way, with the run folder, checkpoints and a faster step around
it (README: "The learner's path").
"""

import argparse
import os
import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from data import load_dataset
from data.load import subset
from nn import Conv2D, Dense, Flatten, MaxPool2D, ReLU, Sequential
from nn.batches import batches
from nn.train import TrainState, adam, init_state, one_cycle, train_step

# ---------------------------------------------------------------------------- configuration
BATCH_SIZE = 64  # examples per step
PEAK_LR = 5e-3  # Adam's learning rate at the top of its one-cycle schedule
SEED = 0  # the initial parameters, the order of the batches and nothing else


def accuracy(model: Sequential, state: TrainState, x: np.ndarray, y: np.ndarray) -> float:
    """The fraction of (x, y) the model classifies right, in evaluation mode, 1000 at a time."""
    logits = jax.jit(partial(model.forward, train=False))  # (B, K), without dropout
    right = [
        jnp.argmax(logits(state.params, state.model_state, x[i : i + 1000])[0], axis=-1)
        == y[i : i + 1000]
        for i in range(0, len(y), 1000)
    ]
    return float(jnp.mean(jnp.concatenate(right)))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--subset", type=int, default=0, help="the first N train and test images")
    ap.add_argument("--data-dir", default=os.environ.get("HANDJAX_DATA_DIR"), metavar="DIR")
    args = ap.parse_args()

    # ------------------------------------------------------------------------------- data
    data = load_dataset("mnist", args.data_dir)  # found locally or downloaded, then verified
    data = subset(data, args.subset) if args.subset else data
    x_train, y_train = data.x_train, data.y_train  # (N, 28, 28, 1) float32 in [0, 1], (N,)

    # ------------------------------------------------------------------------------ model
    model = Sequential([
        Conv2D(16, 3, padding="same"), ReLU(), MaxPool2D(2),   # (28, 28, 16) -> (14, 14, 16)
        Conv2D(32, 3, padding="same"), ReLU(), MaxPool2D(2),   # (14, 14, 32) -> (7, 7, 32)
        Flatten(),                                             # (1568,)
        Dense(64), ReLU(),                                     # (64,)
        Dense(10),                                             # logits; softmax is in the loss
    ])  # fmt: skip
    steps = args.epochs * (len(y_train) // BATCH_SIZE)
    optimizer = adam(one_cycle(PEAK_LR, steps))
    state = init_state(model, optimizer, x_train.shape[1:], seed=SEED)
    print(model.summary(x_train.shape[1:], state.params))

    # ------------------------------------------------------------------------------ train
    step = jax.jit(partial(train_step, model, optimizer))  # compiled once, on the first batch
    for epoch in range(args.epochs):
        start, losses = time.perf_counter(), []
        for batch in batches(len(y_train), BATCH_SIZE, seed=SEED, epoch=epoch):
            state, loss = step(state, x_train[batch.index], y_train[batch.index])
            losses.append(loss)
        seconds = time.perf_counter() - start
        train_loss = float(jnp.mean(jnp.stack(losses)))
        print(f"epoch {epoch + 1}/{args.epochs}: {seconds:.1f} s, training loss {train_loss:.4f}")

    # --------------------------------------------------------------------------- evaluate
    print(f"test accuracy: {accuracy(model, state, data.x_test, data.y_test):.4f}")
