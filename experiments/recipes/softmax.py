"""Softmax regression: one dense layer on the flattened image, no hidden layer (the "simple
neural network" of a Keras script this project started from).

    python -m experiments.softmax [--dataset {mnist,fashion-mnist}] [--epochs N] ...
"""

from __future__ import annotations

from experiments.config import RunConfig
from nn import Dense, Flatten, Sequential

DEFAULTS = RunConfig(epochs=10, batch_size=128, lr=1e-2)


def build_model(num_classes: int) -> Sequential:
    return Sequential([Flatten(), Dense(num_classes)])  # 784 -> logits
