"""Every experiment by name: its module has ``build_model(num_classes)`` and ``DEFAULTS``."""

from types import ModuleType

from experiments import best, cnn, fast, hidden, mlp, seed_cnn, softmax

EXPERIMENTS: dict[str, ModuleType] = {
    m.__name__.rsplit(".", 1)[1]: m for m in (softmax, hidden, mlp, seed_cnn, cnn, fast, best)
}
