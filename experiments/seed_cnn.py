"""``python -m experiments.seed_cnn`` runs the recipe in experiments/recipes/seed_cnn.py: its
network, its defaults and what it is for (``--help`` prints that module's docstring)."""

import sys

from experiments.common import main
from experiments.recipes import seed_cnn

if __name__ == "__main__":
    sys.exit(main("seed_cnn", seed_cnn.__doc__, seed_cnn.build_model, seed_cnn.DEFAULTS))
