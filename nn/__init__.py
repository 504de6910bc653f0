"""handjax.nn: layers with hand-written forward and backward passes, a Sequential model, the
loss, and the train step that feeds their gradients to optax (nn/train.py). It stands on jax,
optax and numpy alone; the application around it (run folders, progress, reports, figures) is
experiments/."""

from nn.activations import ReLU
from nn.batchnorm import BatchNorm
from nn.conv import Conv2D
from nn.dense import Dense
from nn.dropout import Dropout
from nn.losses import softmax_cross_entropy, softmax_cross_entropy_backward
from nn.model import Sequential, count_params
from nn.pool import AvgPool2D, GlobalAveragePooling2D, MaxPool2D
from nn.reshape import Flatten

__all__ = [
    "AvgPool2D",
    "BatchNorm",
    "Conv2D",
    "Dense",
    "Dropout",
    "Flatten",
    "GlobalAveragePooling2D",
    "MaxPool2D",
    "ReLU",
    "Sequential",
    "count_params",
    "softmax_cross_entropy",
    "softmax_cross_entropy_backward",
]
