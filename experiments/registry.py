"""Every experiment by name. A recipe (experiments/recipes/cnn.py and the others) declares
``DEFAULTS`` (a RunConfig), ``build_model(num_classes)`` and, where its settings differ on some
dataset, ``BY_DATASET``; its command, ``python -m experiments.cnn``, is a few-line module that
hands them to ``experiments.common.main``. The
registry is where the rest of the project (experiments.compare, experiments.predict, the
benchmarks) finds the recipes. A new experiment is a recipe, its command and one entry here
(tests/test_registry.py checks all three)."""

from types import ModuleType

from experiments.recipes import best, cnn, fast, hidden, mlp, seed_cnn, softmax

EXPERIMENTS: dict[str, ModuleType] = {
    m.__name__.rsplit(".", 1)[1]: m for m in (softmax, hidden, mlp, seed_cnn, cnn, fast, best)
}
