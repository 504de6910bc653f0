"""``python -m experiments.hidden`` runs the recipe in experiments/recipes/hidden.py: its
network, its defaults and what it is for (``--help`` prints that module's docstring)."""

import sys

from experiments.common import main
from experiments.recipes import hidden

if __name__ == "__main__":
    sys.exit(main("hidden", hidden.__doc__, hidden.build_model, hidden.DEFAULTS))
