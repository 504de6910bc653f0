"""Run by tests/test_parallel.py in a fresh process with several CPU devices:
``python -m tests.dp_check N`` prints, as JSON, the largest difference between the parameters
after three data-parallel Adam steps on 1..N devices and after the same steps on one device.
Each global batch has 30 rows, which no device count above 2 divides (weight-0 padding)."""

import json
import sys

import jax

jax.config.update("jax_num_cpu_devices", int(sys.argv[1]))

import numpy as np  # noqa: E402
import optax  # noqa: E402

from nn import Conv2D, Dense, Flatten, MaxPool2D, ReLU, Sequential  # noqa: E402
from nn.parallel import Placement, data_mesh  # noqa: E402
from nn.train import EpochSums, init_state, make_train_step  # noqa: E402

MODEL = Sequential([Conv2D(4, 3), ReLU(), MaxPool2D(2), Flatten(), Dense(10)])  # no dropout


def train(devices: int) -> tuple:
    rng = np.random.default_rng(0)
    x = rng.random((96, 8, 8, 1), dtype=np.float32)
    y = rng.integers(0, 10, 96).astype(np.int32)
    optimizer = optax.adam(1e-2)
    place = Placement(data_mesh(devices))
    state = place.tree(init_state(MODEL, optimizer, (8, 8, 1), seed=0))
    data = place.data(x, y)
    step = make_train_step(MODEL, optimizer, mesh=place.mesh, micro_batch=8)
    for s in range(3):
        index = np.arange(30 * s, 30 * s + 30, dtype=np.int32)
        state, sums = step(
            state, place.tree(EpochSums.zeros()), data, *place.rows(index, np.ones(30, np.float32))
        )
    return jax.device_get(state.params), float(sums.loss), float(sums.count)


def main() -> None:
    reference, loss, count = train(1)
    out = {}
    for n in range(2, jax.device_count() + 1):
        params, n_loss, n_count = train(n)
        diff = max(
            float(np.max(np.abs(a - b)))
            for a, b in zip(
                jax.tree_util.tree_leaves(reference), jax.tree_util.tree_leaves(params), strict=True
            )
        )
        out[n] = {"max_param_diff": diff, "loss_diff": abs(n_loss - loss), "count": n_count}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
