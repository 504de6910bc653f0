"""Train and evaluate the CNN on MNIST (or Fashion-MNIST): the project's main job.

    python -m experiments.cnn [--dataset {mnist,fashion-mnist}] [--data-dir DIR] [--epochs N]
                              [--batch-size N] [--lr LR] [--seed N] [--out DIR]

Every layer's forward and backward pass is hand-written in nn/; optax's Adam applies the
gradients. Writes metrics.json and checkpoint.npz into the run folder.
"""

from __future__ import annotations

import sys

from experiments.common import RunConfig, main
from nn import Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU, Sequential

DEFAULTS = RunConfig(
    epochs=3,  # one-cycle over 3 epochs passes 99.0% on MNIST
    batch_size=32,  # small batches: more updates per second of CPU time
    lr=3e-3,  # peak of the one-cycle schedule
)


def build_model(num_classes: int) -> Sequential:
    """Keras's mnist_convnet layout: two conv/pool stages, dropout, a linear classifier."""
    return Sequential([
        Conv2D(32, 3), ReLU(), MaxPool2D(2),   # (26, 26, 32) -> (13, 13, 32)
        Conv2D(64, 3), ReLU(), MaxPool2D(2),   # (11, 11, 64) -> (5, 5, 64)
        Flatten(), Dropout(0.5),               # (1600,)
        Dense(num_classes),                    # logits; softmax lives in the loss
    ])  # fmt: skip


if __name__ == "__main__":
    sys.exit(main("cnn", __doc__, build_model, DEFAULTS))
