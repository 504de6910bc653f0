"""``python -m experiments.fast`` runs the recipe in experiments/recipes/fast.py: its
network, its defaults and what it is for (``--help`` prints that module's docstring)."""

import sys

from experiments.common import main
from experiments.recipes import fast

if __name__ == "__main__":
    sys.exit(main("fast", fast.__doc__, fast.build_model, fast.DEFAULTS))
