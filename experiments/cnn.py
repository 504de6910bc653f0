"""``python -m experiments.cnn`` runs the recipe in experiments/recipes/cnn.py: its
network, its defaults and what it is for (``--help`` prints that module's docstring)."""

import sys

from experiments.common import main
from experiments.recipes import cnn

if __name__ == "__main__":
    sys.exit(main("cnn", cnn.__doc__, cnn.build_model, cnn.DEFAULTS, per_dataset=cnn.BY_DATASET))
