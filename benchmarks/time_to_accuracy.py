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
steps JAX has dispatched but not yet run.

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
from collections.abc import Callable, Sequence  # noqa: E402
from dataclasses import replace  # noqa: E402

RACERS = ("fast", "cnn", "torch-fast", "torch-keras")
RECIPE_OF = {"fast": "fast", "cnn": "cnn", "torch-fast": "fast", "torch-keras": "keras"}
KERAS_EPOCHS, KERAS_BATCH, KERAS_LR = 15, 32, 1e-3
RESULT = "RESULT "  # a racer's last line of output: RESULT {json}


def race(
    step: Callable[[int], None],
    accuracy: Callable[[], float],
    *,
    steps_per_epoch: int,
    epochs: int,
    evals_per_epoch: int,
    target: float,
    budget: float,
    start: float,
    sync: Callable[[], object] = lambda: None,
) -> dict:
    """Run ``step(i)`` for every step, checking ``accuracy()`` evals_per_epoch times an epoch;
    returns when the target is reached, the epochs are done, or the budget is spent. ``start``
    is the ``time.time()`` the clock started at. ``sync()`` waits for the steps dispatched so
    far (JAX runs them asynchronously): the clock must not pause while they still run."""
    paused, every = 0.0, max(1, steps_per_epoch // evals_per_epoch)
    trace = []
    for i in range(epochs * steps_per_epoch):
        step(i)
        if (i + 1) % every == 0 or i + 1 == epochs * steps_per_epoch:
            sync()
            t0 = time.time()
            elapsed = t0 - start - paused  # time so far, evaluations excluded
            acc = accuracy()
            paused += time.time() - t0
            trace.append({"epoch": (i + 1) / steps_per_epoch, "seconds": elapsed, "accuracy": acc})
            print(f"  {trace[-1]['epoch']:5.2f} epochs {elapsed:7.2f} s  {acc:.4f}", flush=True)
            if acc >= target or elapsed > budget:
                return {"reached": acc >= target, "seconds": elapsed, "trace": trace}
    return {"reached": False, "seconds": trace[-1]["seconds"], "trace": trace}


def recipe(name: str, overrides: dict):  # noqa: ANN201  (a RunConfig)
    from experiments.registry import EXPERIMENTS

    return replace(EXPERIMENTS[name].DEFAULTS, **overrides)


def load(args: argparse.Namespace):  # noqa: ANN201  (a Dataset)
    from data import load_dataset
    from data.load import subset
    from experiments.cli import DATA_DIR_ENV

    ds = load_dataset("mnist", args.data_dir or os.environ.get(DATA_DIR_ENV) or None)
    return subset(ds, args.subset) if args.subset else ds


def ours(name: str, args: argparse.Namespace, overrides: dict) -> dict:
    """experiments.<name>'s recipe with this project's layers and train step."""
    import jax

    if args.compilation_cache:
        from nn.runtime import use_compilation_cache

        use_compilation_cache(args.compilation_cache)
    from data.augment import make_augment, parse_augment
    from experiments.registry import EXPERIMENTS
    from experiments.start import make_optimizer
    from nn.batches import batches, to_device
    from nn.evaluate import evaluate, make_eval_step
    from nn.train import EpochSums, init_state, make_train_step

    ds = load(args)
    cfg = recipe(name, overrides)
    model = EXPERIMENTS[name].build_model(10)
    steps = len(ds.y_train) // cfg.batch_size
    optimizer = make_optimizer(cfg, steps)
    state = init_state(model, optimizer, (28, 28, 1), seed=cfg.seed)
    train, test = to_device(ds.x_train, ds.y_train), to_device(ds.x_test, ds.y_test)
    train_step = make_train_step(
        model, optimizer, augment=make_augment(parse_augment(cfg.augmentation)),
        label_smoothing=cfg.label_smoothing,
    )  # fmt: skip
    eval_step = make_eval_step(model)
    holder = {"state": state, "sums": EpochSums.zeros(), "plan": []}

    def step(i: int) -> None:
        if i % steps == 0:
            holder["plan"] = list(
                batches(len(ds.y_train), cfg.batch_size, seed=cfg.seed, epoch=i // steps)
            )
        b = holder["plan"][i % steps]
        holder["state"], holder["sums"] = train_step(
            holder["state"], holder["sums"], train, b.index, b.weight
        )

    def accuracy() -> float:
        state = holder["state"]
        return evaluate(eval_step, state.params, state.model_state, test, 1000).accuracy

    return race(
        step, accuracy, steps_per_epoch=steps, epochs=cfg.epochs,
        evals_per_epoch=args.evals_per_epoch, target=args.target, budget=args.budget,
        start=args.launched, sync=lambda: jax.block_until_ready(holder["state"]),
    )  # fmt: skip


def pytorch(name: str, args: argparse.Namespace, overrides: dict) -> dict | None:
    """PyTorch with experiments.fast's recipe ("fast") or the Keras example's ("keras").

    Our own modules, and JAX, which they import, are loaded before PyTorch's clock counts, and
    the network to translate and the schedule's per-step rates are worked out then too; what
    counts is PyTorch's import, reading the data (with our reader), the translation and the
    training."""
    ours_began = time.time()
    import jax
    import jax.numpy as jnp
    import numpy as np

    from benchmarks.peers import keras_convnet, torch_trainer
    from nn.train import one_cycle

    n_train = min(args.subset, 60_000) if args.subset else 60_000
    model, batch, lr, epochs, rates = keras_convnet(), KERAS_BATCH, KERAS_LR, args.peer_epochs, None
    if name != "keras":
        from experiments.registry import EXPERIMENTS

        cfg = recipe(name, overrides)
        if cfg.augmentation != "none" or cfg.label_smoothing:
            raise ValueError(f"the PyTorch racer has no augmentation or label smoothing ({name})")
        model, batch, lr = EXPERIMENTS[name].build_model(10), cfg.batch_size, cfg.lr
        epochs = cfg.epochs
        total = epochs * (n_train // batch)
        if cfg.schedule == "onecycle":
            rates = np.asarray(jax.vmap(one_cycle(lr, total))(jnp.arange(total)))
    shapes = model.abstract_init((28, 28, 1))[2]
    start = args.launched + (time.time() - ours_began)  # the clock skips our part

    ds = load(args)
    step_fn = torch_trainer(
        batch, ds.x_train, ds.y_train, lr, model=model, shapes=shapes, rates=rates
    )
    if step_fn is None:
        return None
    return race(
        lambda i: step_fn(),
        lambda: step_fn.evaluate(ds.x_test, ds.y_test),
        steps_per_epoch=len(ds.y_train) // batch, epochs=epochs,
        evals_per_epoch=args.evals_per_epoch, target=args.target, budget=args.budget,
        start=start,
    )  # fmt: skip


def run_racer(racer: str, args: argparse.Namespace, overrides: dict) -> dict | None:
    name = RECIPE_OF[racer]
    if racer.startswith("torch"):
        return pytorch(name, args, overrides)
    return ours(name, args, overrides)


def describe(racer: str, overrides: dict) -> str:
    if racer == "torch-keras":
        return f"PyTorch, Keras mnist_convnet recipe: batch {KERAS_BATCH}, Adam {KERAS_LR} constant"
    cfg = recipe(RECIPE_OF[racer], overrides)
    who = "PyTorch" if racer.startswith("torch") else "handjax"
    return (
        f"{who}, experiments.{RECIPE_OF[racer]} recipe: {cfg.epochs} epochs, batch "
        f"{cfg.batch_size}, {cfg.schedule} Adam peak {cfg.lr:g}"
    )


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
