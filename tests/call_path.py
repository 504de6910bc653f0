"""Run ``python -m MODULE ARGS...`` with Conv2D.backward watched, and print the path of calls
that first reaches it: our functions from the one MODULE's top level calls, to Conv2D.backward,
as one line ``PATH main -> fit -> ... -> Conv2D.backward``. With --stop, exit right there.

    python -m tests.call_path [--stop] MODULE [ARGS...]
"""

import os
import runpy
import sys
from pathlib import Path

import nn.conv

ROOT = Path(__file__).resolve().parent.parent
OURS = [ROOT / d for d in ("nn", "data", "experiments", "benchmarks")]  # not .venv's packages


def our_calls() -> list[str]:
    """The functions of this repository on the stack, outermost first, from the one the entry
    module's top level called; tests/ and this file's own frames left out."""
    names, frame = [], sys._getframe(2)  # the caller of the watched backward
    while frame is not None:
        path = Path(frame.f_code.co_filename)
        if any(path.is_relative_to(d) for d in OURS):
            names.append(frame.f_code.co_qualname.split(".<locals>.")[-1])
        frame = frame.f_back
    return names[::-1][1:]  # the first is the entry module's <module>


def main() -> None:
    stop = sys.argv[1] == "--stop"
    module, *args = sys.argv[2:] if stop else sys.argv[1:]
    original = nn.conv.Conv2D.backward
    seen = []

    def backward(self, *a, **k):  # noqa: ANN001, ANN202
        if not seen:
            seen.append(" -> ".join([*our_calls(), "Conv2D.backward"]))
            print(f"PATH {seen[0]}", flush=True)
            if stop:
                os._exit(0)
        return original(self, *a, **k)

    nn.conv.Conv2D.backward = backward
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
