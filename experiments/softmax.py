"""``python -m experiments.softmax`` runs the recipe in experiments/recipes/softmax.py: its
network, its defaults and what it is for (``--help`` prints that module's docstring)."""

import sys

from experiments.common import main
from experiments.recipes import softmax

if __name__ == "__main__":
    sys.exit(main("softmax", softmax.__doc__, softmax.build_model, softmax.DEFAULTS))
