"""The fast recipe: the smallest CNN we tried that reaches 99% on MNIST reliably, trained for
time, not for the last tenth of a percent.

    python -m experiments.fast [--dataset {mnist,fashion-mnist}] [--epochs N] [--seed N] ...

Two 3x3 convolutions of 16 and 32 channels, each followed by ReLU and 2x2 max pooling, a
64-unit hidden layer and the classifier: about 1.1 million multiply-adds an image, a quarter of
experiments.cnn's. Large
batches (the step's fixed costs shared by 128 images) and a high one-cycle peak learning rate
make up for the short schedule. ``python -m benchmarks.time_to_accuracy`` races it against
experiments.cnn and against the same recipe in PyTorch.
"""

from __future__ import annotations

from experiments.config import RunConfig
from nn import Conv2D, Dense, Flatten, MaxPool2D, ReLU, Sequential

DEFAULTS = RunConfig(
    epochs=2,  # one-cycle over 2 epochs
    batch_size=128,
    lr=1e-2,  # peak of the one-cycle schedule
)


def build_model(num_classes: int) -> Sequential:
    """Two small same-padded conv/pool stages, a 64-unit hidden layer, a classifier."""
    return Sequential([
        Conv2D(16, 3, padding="same"), ReLU(), MaxPool2D(2),   # (28, 28, 16) -> (14, 14, 16)
        Conv2D(32, 3, padding="same"), ReLU(), MaxPool2D(2),   # (14, 14, 32) -> (7, 7, 32)
        Flatten(),                                             # (1568,)
        Dense(64), ReLU(),                                     # (64,)
        Dense(num_classes),                                    # logits; softmax is in the loss
    ])  # fmt: skip
