"""One hidden layer: Flatten, Dense 128 + ReLU, Dense to the classes.

python -m experiments.hidden [--dataset {mnist,fashion-mnist}] [--epochs N] ...
"""

from __future__ import annotations

from experiments.config import RunConfig
from nn import Dense, Flatten, ReLU, Sequential

DEFAULTS = RunConfig(epochs=10, batch_size=128, lr=3e-3)


def build_model(num_classes: int) -> Sequential:
    return Sequential([Flatten(), Dense(128), ReLU(), Dense(num_classes)])
