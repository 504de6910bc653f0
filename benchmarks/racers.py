"""The racers of benchmarks.time_to_accuracy, each run in its own process: this project's
recipes (``ours``) and PyTorch's (``pytorch``), timed by ``race`` until the test accuracy
reaches the target. Heavy imports happen inside the racers, after their clock has started."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import replace

RACERS = ("fast", "cnn", "torch-fast", "torch-keras")
RECIPE_OF = {"fast": "fast", "cnn": "cnn", "torch-fast": "fast", "torch-keras": "keras"}
KERAS_EPOCHS, KERAS_BATCH, KERAS_LR = 15, 32, 1e-3


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
