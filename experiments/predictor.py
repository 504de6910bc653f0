"""A trained checkpoint, loaded once, as the commands that read your own images call it
(experiments.predict, experiments.draw, benchmarks.outside_digits).

A ``Predictor`` takes (N, 28, 28) pictures in [0, 1], light on black, as data/framing.py makes
them (what the network sees), and compiles two functions of them once per batch size: the class
probabilities, and the probabilities with a saliency map for one class per picture
(nn/saliency.py: the network's own backward pass, in evaluation mode).

A checkpoint whose recipe averages test-time views (``--tta``: the default CNN's one-pixel
shifts on MNIST, mirror images on Fashion-MNIST) is read the same way here: the probabilities
are the mean over the picture and its views, as in the run's test accuracy, and the saliency map
is that mean's (nn/saliency.py, "Several views").
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from data.registry import DATASETS, Framing
from data.views import TEST_VIEWS, View, carry_back
from experiments.config import RunConfig
from experiments.outcome import UsageError
from experiments.registry import EXPERIMENTS
from experiments.rundir import CHECKPOINT, METRICS
from nn.checkpoint import load_weights, read_meta
from nn.evaluate import views_log_probs
from nn.saliency import times_input, views_saliency


class Explanation(NamedTuple):
    probs: np.ndarray  # (N, K) class probabilities p (the mean over the run's test-time views)
    classes: np.ndarray  # (N,) the class each map is for
    gradient: np.ndarray  # (N, 28, 28) d log p[class] / d pixel, pixels in [0, 1] as the input's
    strokes: np.ndarray  # (N, 28, 28) gradient x input: each pixel's term of log p[class]


def newest_checkpoint(runs: Path = Path("runs")) -> Path:
    """The checkpoint a command uses when none is given: that of the run finished last under
    ``runs`` (its metrics.json written after its last epoch), whichever experiment and dataset it
    was; without a finished run, the newest checkpoint of an unfinished one. Prints which, and
    why, so that the choice is never a surprise."""
    found = list(runs.glob(f"*/{CHECKPOINT}"))
    finished = [p for p in found if (p.parent / METRICS).is_file()]
    if not found:
        raise UsageError(
            "no checkpoint found: train one with `python -m experiments.cnn` "
            f"(it writes runs/cnn-<time>/{CHECKPOINT}), then pass --checkpoint PATH"
        )
    pool = finished or found
    path = max(pool, key=lambda p: ((p.parent / METRICS) if finished else p).stat().st_mtime)
    print(f"No --checkpoint given: using {path}, {_about(path, bool(finished))}")
    return path


def _about(path: Path, finished: bool) -> str:
    """'the run finished last (experiments.cnn on mnist, test accuracy 99.45%)', or the like."""
    if not finished:
        return "the newest checkpoint (no run under runs/ has finished yet)"
    try:
        metrics = json.loads((path.parent / METRICS).read_text())
        config = metrics.get("config", {})
        what = f"experiments.{metrics['experiment']} on {config.get('dataset', 'mnist')}"
        return f"the run finished last ({what}, test accuracy {metrics['test_accuracy']:.2%})"
    except (OSError, ValueError, KeyError, TypeError):
        return "the run finished last"


def load_model(path: Path):  # noqa: ANN201  (returns (model, (params, model_state), meta))
    meta = read_meta(path)
    needed = ("class_names", "in_shape", "mean", "std")
    module = EXPERIMENTS.get(meta.get("experiment", "")) if isinstance(meta, dict) else None
    if module is None or any(k not in meta for k in needed):
        raise UsageError(f"{path} is not a checkpoint of one of: {', '.join(EXPERIMENTS)}")
    model = module.build_model(len(meta["class_names"]))
    return model, load_weights(path, model, tuple(meta["in_shape"])), meta


def framing_of(meta: dict) -> Framing:
    """The framing of the dataset a checkpoint was trained on (MNIST's when unknown)."""
    config = meta.get("config") if isinstance(meta, dict) else None
    dataset = config.get("dataset", "mnist") if isinstance(config, dict) else "mnist"
    return DATASETS.get(dataset, DATASETS["mnist"]).framing


def views_of(meta: dict) -> tuple[View, ...]:
    """The test-time views a checkpoint's run averaged its test predictions over: as its header
    names them, or for a checkpoint written before headers did, its --tta resolved by today's
    registry (none when its configuration does not say)."""
    named = meta.get("test_views") if isinstance(meta, dict) else None
    if isinstance(named, str):
        return TEST_VIEWS.get(named, ())
    config = meta.get("config") if isinstance(meta, dict) else None
    if not isinstance(config, dict):
        return ()
    try:
        return TEST_VIEWS.get(RunConfig.from_dict(config).test_views, ())
    except (TypeError, ValueError):  # a configuration this version cannot read: no views
        return ()


class Predictor:
    """A checkpoint loaded once and its functions compiled once per batch size: (N, 28, 28)
    MNIST-like inputs in [0, 1] -> (N, K) probabilities, or an Explanation. Safe to call from
    several threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.model, self.weights, self.meta = load_model(path)
        self.class_names: list[str] = list(self.meta["class_names"])
        self.framing = framing_of(self.meta)  # for data.framing.to_mnist
        self.mean, self.std = np.float32(self.meta["mean"]), np.float32(self.meta["std"])
        self.views = views_of(self.meta)  # averaged over, as the run's test accuracy was
        self.forward = jax.jit(self.probabilities)
        self.saliency = jax.jit(self.explained)
        self.lock = threading.Lock()  # one model call at a time

    def __call__(self, images: np.ndarray) -> np.ndarray:
        with self.lock:
            return np.asarray(self.forward(self.weights, jnp.asarray(images, np.float32)))

    def inputs(self, images: jax.Array) -> list[jax.Array]:
        """(N, 28, 28) pictures -> the model's input (N, 28, 28, 1) for the picture and each
        view, standardised as in training."""
        x = (images[..., None] - self.mean) / self.std  # the views act on the model's input,
        return [x, *(view(x) for view in self.views)]  # as in the run's test evaluation

    def probabilities(self, weights, images: jax.Array) -> jax.Array:  # noqa: ANN001
        """(N, 28, 28) pictures -> (N, K) class probabilities, the mean over the views."""
        x = (images[..., None] - self.mean) / self.std  # (N, 28, 28, 1) as in training
        return jnp.exp(views_log_probs(self.model, *weights, x, self.views))

    def explained(self, weights, images: jax.Array, classes: jax.Array):  # noqa: ANN001, ANN201
        """(probabilities (N, K), classes (N,), gradient (N, 28, 28), strokes (N, 28, 28)):
        the compiled part of ``explain``."""
        log_mean, chosen, grads = views_saliency(self.model, *weights, self.inputs(images), classes)
        # each view's input gradient back to the model's input (its transpose), then the chain
        # rule through x = (pixel - mean) / std
        gradient = carry_back(self.views, grads)[..., 0] / self.std
        return jnp.exp(log_mean), chosen, gradient, times_input(gradient, images)

    def explain(self, images: np.ndarray, classes: np.ndarray | None = None) -> Explanation:
        """The probabilities of (N, 28, 28) inputs and the saliency map of ``classes`` (N,)
        (default, or where negative: the predicted class)."""
        k = len(self.class_names)
        classes = np.full(len(images), -1) if classes is None else np.asarray(classes)
        if classes.shape != (len(images),) or (classes >= k).any():
            raise ValueError(f"expected {len(images)} classes below {k}, got {classes!r}")
        with self.lock:
            out = self.saliency(
                self.weights,
                jnp.asarray(images, np.float32),
                jnp.asarray(classes, np.int32),
            )
        return Explanation(*(np.asarray(a) for a in out))
