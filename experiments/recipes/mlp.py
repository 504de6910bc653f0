"""The MLP of the Keras script this project started from: Dense 128 ReLU, Dense 128 ReLU,
Dropout 0.25, Dense 10 softmax, trained with Adam (Keras defaults, constant learning rate 1e-3)
and categorical cross-entropy for 10 epochs at batch 512, as that script's README does.

    python -m experiments.mlp [--dataset {mnist,fashion-mnist}] [--epochs N] ...
"""

from __future__ import annotations

from experiments.config import RunConfig
from nn import Dense, Dropout, Flatten, ReLU, Sequential

DEFAULTS = RunConfig(epochs=10, batch_size=512, lr=1e-3, schedule="constant")


def build_model(num_classes: int) -> Sequential:
    return Sequential([
        Flatten(),                      # (784,)
        Dense(128), ReLU(),
        Dense(128), ReLU(),
        Dropout(0.25),
        Dense(num_classes),             # softmax lives in the loss
    ])  # fmt: skip
