"""Run by tests/test_parallel.py in a fresh process with several CPU devices:
``python -m tests.dp_check N`` prints, as JSON, the largest difference between the parameters
(and the BatchNorm statistics) after three data-parallel Adam steps on 1..N devices and after the
same steps on one device, for two models, and the largest difference between their evaluations
(batches split across the devices; on one device, in chunks):

- ``plain``: conv, pool, dense; global batches of 30 rows, which no device count above 2
  divides (weight-0 padding), split into micro-batches of at most 8 rows;
- ``batchnorm``: the same with BatchNorm after the convolution; batches of 24 rows (a model with
  batch statistics needs a batch that divides by the device count). Its statistics are those of
  the whole batch on any number of devices, so the steps must agree as closely as the plain
  model's."""

import json
import sys

import jax

jax.config.update("jax_num_cpu_devices", int(sys.argv[1]))

import numpy as np  # noqa: E402
import optax  # noqa: E402

from nn import BatchNorm, Conv2D, Dense, Flatten, MaxPool2D, ReLU, Sequential  # noqa: E402
from nn.evaluate import evaluate, make_eval_step  # noqa: E402
from nn.parallel import Placement, data_mesh  # noqa: E402
from nn.train import EpochSums, init_state, make_train_step  # noqa: E402

MODELS = {  # name -> (model without dropout, global batch size)
    "plain": (Sequential([Conv2D(4, 3), ReLU(), MaxPool2D(2), Flatten(), Dense(10)]), 30),
    # No bias before BatchNorm: its gradient is zero up to rounding, which Adam would amplify
    # into full-size steps of noise (0.03 apart after three steps).
    "batchnorm": (
        Sequential(
            [
                Conv2D(4, 3, use_bias=False),
                BatchNorm(momentum=0.9),
                ReLU(),
                MaxPool2D(2),
                Flatten(),
                Dense(10),
            ]
        ),
        24,
    ),  # fmt: skip
}


def train(model: Sequential, batch: int, devices: int) -> tuple:
    rng = np.random.default_rng(0)
    x = rng.random((96, 8, 8, 1), dtype=np.float32)
    y = rng.integers(0, 10, 96).astype(np.int32)
    optimizer = optax.adam(1e-2)
    place = Placement(data_mesh(devices))
    state = place.tree(init_state(model, optimizer, (8, 8, 1), seed=0))
    data = place.data(x, y)
    step = make_train_step(model, optimizer, mesh=place.mesh, micro_batch=8)
    for s in range(3):
        index = np.arange(batch * s, batch * (s + 1), dtype=np.int32)
        state, sums = step(
            state,
            place.tree(EpochSums.zeros()),
            data,
            *place.rows(index, np.ones(batch, np.float32)),
        )
    weights = jax.device_get((state.params, state.model_state))
    # evaluation of the 96 rows in batches of 30 (the last padded), the batch split across the
    # devices; on one device in chunks of at most 8 rows
    eval_step = make_eval_step(model, micro_batch=8, mesh=place.mesh)
    probs = evaluate(eval_step, state.params, state.model_state, data, 30, place).probs
    return weights, float(sums.loss), float(sums.count), probs


def main() -> None:
    out = {}
    for name, (model, batch) in MODELS.items():
        reference, loss, count, probs = train(model, batch, 1)
        out[name] = {}
        for n in range(2, jax.device_count() + 1):
            if model.mixes_batch and batch % n:
                continue
            weights, n_loss, n_count, n_probs = train(model, batch, n)
            diff = max(
                float(np.max(np.abs(a - b)))
                for a, b in zip(
                    jax.tree_util.tree_leaves(reference),
                    jax.tree_util.tree_leaves(weights),
                    strict=True,
                )
            )
            out[name][n] = {
                "max_diff": diff,
                "loss_diff": abs(n_loss - loss),
                "count": n_count,
                "eval_diff": float(np.max(np.abs(n_probs - probs))),  # same weights? see max_diff
            }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
