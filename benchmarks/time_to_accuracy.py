"""Wall-clock seconds until MNIST test accuracy first reaches the target (99.0%), from a cold
start: Python, the libraries, reading and decoding the dataset files, building the model,
compiling and training all count. Four racers, each in its own fresh process, one after another:

    fast        this project, experiments.fast's recipe (its model, batch, one-cycle schedule)
    cnn         this project, experiments.cnn's recipe (the default)
    torch-fast  PyTorch (CPU) running experiments.fast's recipe: the same network, initialiser,
                Adam, batch size, one-cycle schedule and epochs
    torch-keras PyTorch running the Keras mnist_convnet example's recipe (conv 32, pool, conv 64,
                pool, dropout 0.5, dense 10; Adam 1e-3, batch 32, 15 epochs)

so the table separates the implementation (fast against torch-fast) from the recipe (torch-fast
against torch-keras). Each racer evaluates the full test set a few times per epoch; the clock
stops while it evaluates (the evaluation is the measurement, not the training). A racer's clock
starts just before its process is launched, so it includes the interpreter's start and the
imports (a PyTorch racer's clock leaves out the time its process spends importing this project's
modules and JAX, which PyTorch itself would not need). Before pausing, the clock waits for the
steps JAX has dispatched but not yet run. The racers themselves: benchmarks/racers.py.

    python -m benchmarks.time_to_accuracy [--data-dir DIR] [--target 0.99] [--racers ...]
        [--epochs N --batch-size N --lr LR]   (override the recipes of fast, cnn, torch-fast)
        [--compilation-cache DIR]

Cold by default: our racers compile everything (the experiments' persistent compilation cache,
nn/runtime.py, is not used). With ``--compilation-cache DIR`` they use that cache folder: the
first invocation fills it, later ones start warm, as a second run of an experiment does.
"""

from __future__ import annotations

import time

LAUNCHED = time.time()  # before any import: a racer's process starts its clock here

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from collections.abc import Sequence  # noqa: E402

from benchmarks.racers import KERAS_EPOCHS, RACERS, describe, run_racer  # noqa: E402

RESULT = "RESULT "  # a racer's last line of output: RESULT {json}


def launch(racer: str, argv: Sequence[str]) -> dict | None:
    """Run one racer in a fresh process: its RESULT (None: PyTorch is missing), or
    {"error": ...} if the process failed (its traceback is on stderr, above)."""
    cmd = [sys.executable, "-m", "benchmarks.time_to_accuracy", *argv, "--racer", racer]
    cmd += ["--launched", repr(time.time())]  # the clock includes the interpreter's start
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    result, missing = None, True
    for line in proc.stdout:
        if line.startswith(RESULT):
            result, missing = json.loads(line[len(RESULT) :]), False
        else:
            print(line, end="", flush=True)
    if proc.wait() != 0 or (missing and not racer.startswith("torch")):
        return {"error": f"racer {racer} failed (exit {proc.returncode}; see its output above)"}
    return result


def main(argv: Sequence[str] | None = None) -> dict | None:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.time_to_accuracy",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--data-dir", metavar="DIR")
    ap.add_argument("--target", type=float, default=0.99)
    ap.add_argument("--evals-per-epoch", type=int, default=8)
    ap.add_argument("--budget", type=float, default=600.0, help="seconds before giving up")
    ap.add_argument("--subset", type=int, default=0, help="first N train/test images (smoke)")
    ap.add_argument("--racers", nargs="+", choices=RACERS, default=list(RACERS))
    ap.add_argument("--epochs", type=int, help="epochs of the fast, cnn and torch-fast recipes")
    ap.add_argument("--batch-size", type=int, help="their batch size")
    ap.add_argument("--lr", type=float, help="their peak learning rate")
    ap.add_argument("--peer-epochs", type=int, default=KERAS_EPOCHS, help="torch-keras's epochs")
    ap.add_argument(
        "--compilation-cache", metavar="DIR", help="our racers' persistent compilation cache"
    )
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--racer", choices=RACERS, help=argparse.SUPPRESS)  # internal: be one racer
    ap.add_argument("--launched", type=float, default=LAUNCHED, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    overrides = {
        k: v
        for k, v in (("epochs", args.epochs), ("batch_size", args.batch_size), ("lr", args.lr))
        if v
    }
    if args.racer:  # a racer's own process: race, then report on the last line
        result = run_racer(args.racer, args, overrides)
        if result is not None:
            result["pid"] = os.getpid()  # the process it ran in
        print(RESULT + json.dumps(result), flush=True)
        return result

    from benchmarks.peers import missing_note
    from benchmarks.timing import machine, write_json

    print(f"Machine: {machine()}")
    argv = list(sys.argv[1:] if argv is None else argv)
    results = {}
    for racer in args.racers:
        print(f"{racer}: {describe(racer, overrides)}", flush=True)
        result = launch(racer, argv)
        if result is None:
            print(missing_note("torch"))
        else:
            results[racer] = result
    print(f"{'racer':<12}{'reached':>9}{'seconds':>10}{'epochs':>8}{'accuracy':>10}  recipe")
    for racer, r in results.items():
        if "error" in r:
            print(f"{racer:<12}{'failed':>9}  {r['error']}")
            continue
        last = r["trace"][-1]
        print(
            f"{racer:<12}{'yes' if r['reached'] else 'no':>9}{r['seconds']:>10.1f}"
            f"{last['epoch']:>8.2f}{last['accuracy']:>10.4f}  {describe(racer, overrides)}"
        )
    out = {
        "benchmark": "time_to_accuracy",
        "machine": machine(),
        "target": args.target,
        "recipes": {racer: describe(racer, overrides) for racer in args.racers},
        "results": results,
    }
    write_json(args.json, out)
    return out


if __name__ == "__main__":
    out = main()
    failed = out is not None and any("error" in r for r in out.get("results", {}).values())
    sys.exit(1 if failed else 0)
