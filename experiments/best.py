"""``python -m experiments.best`` runs the recipe in experiments/recipes/best.py: its
network, its defaults and what it is for (``--help`` prints that module's docstring)."""

import sys

from experiments.common import main
from experiments.recipes import best

if __name__ == "__main__":
    sys.exit(
        main("best", best.__doc__, best.build_model, best.DEFAULTS, per_dataset=best.BY_DATASET)
    )
