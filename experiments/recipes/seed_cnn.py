"""The CNN of the two Keras scripts this project started from, on Fashion-MNIST by default:
5 epochs at batch 32 with Adam at Keras's default constant learning rate 1e-3, as their READMEs
report.

Their READMEs name the layers (Conv2D, MaxPooling2D with pool 3 and stride 3, Flatten, Dropout,
Dense, softmax) but not every size; this is that layer list with Keras-example sizes.

    python -m experiments.seed_cnn [--dataset {mnist,fashion-mnist}] [--epochs N] ...
"""

from __future__ import annotations

from experiments.config import RunConfig
from nn import Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU, Sequential

DEFAULTS = RunConfig(dataset="fashion-mnist", epochs=5, batch_size=32, lr=1e-3, schedule="constant")


def build_model(num_classes: int) -> Sequential:
    return Sequential([
        Conv2D(32, 3), ReLU(),          # (26, 26, 32)
        MaxPool2D(3, 3),                # (8, 8, 32): 26 is not a multiple of 3, row 25 dropped
        Flatten(), Dropout(0.2),        # (2048,)
        Dense(128), ReLU(),
        Dense(num_classes),
    ])  # fmt: skip
