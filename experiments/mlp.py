"""``python -m experiments.mlp`` runs the recipe in experiments/recipes/mlp.py: its
network, its defaults and what it is for (``--help`` prints that module's docstring)."""

import sys

from experiments.common import main
from experiments.recipes import mlp

if __name__ == "__main__":
    sys.exit(main("mlp", mlp.__doc__, mlp.build_model, mlp.DEFAULTS))
