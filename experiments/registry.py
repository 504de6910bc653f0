"""Every experiment by name. A recipe module (experiments/cnn.py and the others) declares
``DEFAULTS`` (a RunConfig) and ``build_model(num_classes)``, and runs itself with one line,
``sys.exit(main(name, __doc__, build_model, DEFAULTS))``; the registry is where the rest of the
project (experiments.compare, experiments.predict, the benchmarks) finds them. A new recipe is
one file plus one entry here (tests/test_registry.py checks both)."""

from types import ModuleType

from experiments import best, cnn, fast, hidden, mlp, seed_cnn, softmax

EXPERIMENTS: dict[str, ModuleType] = {
    m.__name__.rsplit(".", 1)[1]: m for m in (softmax, hidden, mlp, seed_cnn, cnn, fast, best)
}
