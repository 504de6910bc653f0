"""The best-accuracy recipe: a CNN with batch normalisation, trained on augmented batches.

    python -m experiments.best [--dataset {mnist,fashion-mnist}] [--epochs N] [--seed N] ...

Three 3x3 convolutions of 32, 64 and 128 channels without bias, each followed by BatchNorm (Keras
semantics, nn/batchnorm.py) and ReLU, the first two by max pooling; a 128-unit hidden layer with
BatchNorm and dropout; label smoothing 0.1; a one-cycle schedule. Every training batch is
augmented on the device (data/augment.py): ``--augment auto`` picks the handwriting preset for
MNIST (rotation, shift, scale, shear, elastic, stroke thickness) and the clothing preset for
Fashion-MNIST (mirror images). On Fashion-MNIST the test predictions are the
mean of the image's and its mirror image's (test-time augmentation, ``--tta auto``; ``--tta none``
turns it off); on MNIST one-pixel shifts gained nothing, so none are used.
"""

from __future__ import annotations

from experiments.config import RunConfig
from nn import BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU, Sequential

DEFAULTS = RunConfig(
    epochs=12,  # one-cycle over 12 epochs: 9.4 minutes on a 2-core CPU (README, "Results")
    # BatchNorm's statistics come from the whole batch, so the step cannot split it into
    # cache-sized chunks (nn/train.py): 32 images' activations stay in the CPU's caches, 64 do
    # not (41 s against 56 s an epoch on 2 cores, without augmentation)
    batch_size=32,
    lr=3e-3,  # peak of the one-cycle schedule
    augment="auto",  # "mnist" for MNIST, "fashion" for Fashion-MNIST
    label_smoothing=0.1,
    tta="none",  # on MNIST its one-pixel shifts gained nothing here (BENCHMARKS.md)
)

# On Fashion-MNIST the test predictions are averaged with the mirror image's (the dataset's views)
BY_DATASET = {"fashion-mnist": {"tta": "auto"}}


def conv_bn(filters: int) -> list:
    """Conv (no bias: BatchNorm's shift replaces it) -> BatchNorm -> ReLU."""
    return [Conv2D(filters, 3, padding="same", use_bias=False), BatchNorm(), ReLU()]


def build_model(num_classes: int) -> Sequential:
    return Sequential([
        *conv_bn(32), MaxPool2D(2),                        # (14, 14, 32)
        *conv_bn(64), MaxPool2D(2),                        # (7, 7, 64)
        *conv_bn(128),                                     # (7, 7, 128)
        Flatten(),                                         # (6272,)
        Dense(128, use_bias=False), BatchNorm(), ReLU(), Dropout(0.3),
        Dense(num_classes),                                # logits; softmax is in the loss
    ])  # fmt: skip
