"""Wall-clock seconds, compile included, until MNIST test accuracy first reaches the target
(99.0%), for this project's default recipe (experiments.cnn) and for PyTorch running the Keras
example recipe (conv 32, pool, conv 64, pool, dropout 0.5, dense 10, Adam 1e-3, batch 32).

Both are evaluated on the full test set a few times per epoch; the clock stops while they are
evaluated (evaluation is the measurement, not the training). The clock starts once the data is
in memory, before the model is built, so compilation counts.

    python -m benchmarks.time_to_accuracy [--data-dir DIR] [--target 0.99] [--no-peers]
        [--epochs N --batch-size N --lr LR]   (to try other recipes of ours)
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from benchmarks.peers import missing_note, torch_trainer
from benchmarks.timing import machine, write_json
from data import load_dataset
from data.load import subset
from experiments import cnn
from experiments.cli import DATA_DIR_ENV
from experiments.common import make_optimizer
from nn.batches import batches, to_device
from nn.evaluate import evaluate, make_eval_step
from nn.train import EpochSums, init_state, make_train_step


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
) -> dict:
    """Run ``step(i)`` for every step, checking ``accuracy()`` evals_per_epoch times an epoch;
    returns when the target is reached, the epochs are done, or the budget is spent."""
    paused, every = 0.0, max(1, steps_per_epoch // evals_per_epoch)
    trace = []
    for i in range(epochs * steps_per_epoch):
        step(i)
        if (i + 1) % every == 0 or i + 1 == epochs * steps_per_epoch:
            t0 = time.perf_counter()
            elapsed = t0 - start - paused  # training time so far, evaluations excluded
            acc = accuracy()
            paused += time.perf_counter() - t0
            trace.append({"epoch": (i + 1) / steps_per_epoch, "seconds": elapsed, "accuracy": acc})
            if acc >= target or elapsed > budget:
                return {"reached": acc >= target, "seconds": elapsed, "trace": trace}
    return {"reached": False, "seconds": trace[-1]["seconds"], "trace": trace}


def ours(ds, cfg, target: float, evals: int, budget: float) -> dict:  # noqa: ANN001
    start = time.perf_counter()
    model = cnn.build_model(10)
    steps = len(ds.y_train) // cfg.batch_size
    optimizer = make_optimizer(cfg, steps)
    state = init_state(model, optimizer, (28, 28, 1), seed=cfg.seed)
    train, test = to_device(ds.x_train, ds.y_train), to_device(ds.x_test, ds.y_test)
    train_step, eval_step = make_train_step(model, optimizer), make_eval_step(model)
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
        step,
        accuracy,
        steps_per_epoch=steps,
        epochs=cfg.epochs,
        evals_per_epoch=evals,
        target=target,
        budget=budget,
        start=start,
    )


def pytorch(ds, target: float, evals: int, budget: float, epochs: int) -> dict | None:  # noqa: ANN001
    start = time.perf_counter()
    step_fn = torch_trainer(32, ds.x_train, ds.y_train)
    if step_fn is None:
        return None
    steps = len(ds.y_train) // 32
    return race(
        lambda i: step_fn(),
        lambda: step_fn.evaluate(ds.x_test, ds.y_test),
        steps_per_epoch=steps,
        epochs=epochs,
        evals_per_epoch=evals,
        target=target,
        budget=budget,
        start=start,
    )


def main(argv: Sequence[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.time_to_accuracy",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--data-dir", metavar="DIR")
    ap.add_argument("--target", type=float, default=0.99)
    ap.add_argument("--evals-per-epoch", type=int, default=4)
    ap.add_argument("--budget", type=float, default=600.0, help="seconds before giving up")
    ap.add_argument("--subset", type=int, default=0, help="first N train/test images (smoke)")
    ap.add_argument("--epochs", type=int, help="our recipe's epochs (default: experiments.cnn's)")
    ap.add_argument("--batch-size", type=int, help="our recipe's batch size")
    ap.add_argument("--lr", type=float, help="our recipe's peak learning rate")
    ap.add_argument("--peer-epochs", type=int, default=15, help="PyTorch's epoch limit")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args(argv)

    ds = load_dataset("mnist", args.data_dir or os.environ.get(DATA_DIR_ENV) or None)
    if args.subset:
        ds = subset(ds, args.subset)
    overrides = {
        k: v
        for k, v in (("epochs", args.epochs), ("batch_size", args.batch_size), ("lr", args.lr))
        if v
    }
    cfg = replace(cnn.DEFAULTS, **overrides)
    print(f"Machine: {machine()}")
    results = {"ours": ours(ds, cfg, args.target, args.evals_per_epoch, args.budget)}
    if not args.no_peers:
        torch_result = pytorch(ds, args.target, args.evals_per_epoch, args.budget, args.peer_epochs)
        if torch_result is None:
            print(missing_note("torch"))
        else:
            results["torch"] = torch_result
    recipes = {
        "ours": f"experiments.cnn: {cfg.epochs} epochs, batch {cfg.batch_size}, "
        f"one-cycle Adam peak {cfg.lr}",
        "torch": "PyTorch, Keras mnist_convnet recipe: batch 32, Adam 1e-3",
    }
    print(f"{'who':<8}{'reached':>9}{'seconds':>10}{'epochs':>8}{'accuracy':>10}  recipe")
    for who, r in results.items():
        last = r["trace"][-1]
        print(
            f"{who:<8}{'yes' if r['reached'] else 'no':>9}{r['seconds']:>10.1f}"
            f"{last['epoch']:>8.2f}{last['accuracy']:>10.4f}  {recipes[who]}"
        )
    out = {
        "benchmark": "time_to_accuracy",
        "machine": machine(),
        "target": args.target,
        "recipes": recipes,
        "results": results,
    }
    write_json(args.json, out)
    return out


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
