"""The recipes: each module declares ``DEFAULTS`` (a RunConfig) and ``build_model(num_classes)``
(and ``BY_DATASET`` where its settings differ on some dataset: experiments/config.py), with a
docstring that says what it trains and why; ``python -m experiments.NAME`` runs it
(experiments/NAME.py, a few lines), and experiments/registry.py lists them all."""
