"""Training throughput (images per second) of the CNN at several batch sizes: this project,
PyTorch on CPU and Keras 3 on JAX, with the same model, initialisation and Adam, measured in
the same invocation and alternating between them, with ratios; plus the model's FLOPs per
training image and our share of the machine's matmul peak, measured in the same run.

    python -m benchmarks.train [--batch-sizes 32 128 512] [--model keras_convnet|default]
                               [--windows 5] [--json PATH]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.peers import (
    KERAS_CONVNET,
    keras_convnet,
    keras_trainer,
    missing_note,
    torch_trainer,
)
from benchmarks.timing import block, machine, median_seconds, write_json
from experiments import cnn
from nn import Conv2D, Dense, Sequential
from nn.batches import DeviceArrays, batches, to_device
from nn.layer import pair
from nn.train import (
    EpochSums,
    MicroBatch,
    adam,
    chunk_size,
    init_state,
    make_train_step,
    resolve_micro_batch,
)


class Product(NamedTuple):
    """One layer's matrix product per training image: (rows x depth) @ (depth x cols). A conv
    layer has one row per output pixel (its im2col matrix); a dense layer one row."""

    rows: int
    depth: int
    cols: int
    first: bool  # the model's first product: its input gradient is never computed


def products(model: Sequential, in_shape: tuple) -> list[Product]:
    _, _, shapes = model.abstract_init(in_shape)
    found: list[Product] = []
    shape = tuple(in_shape)
    for layer, out in zip(model.layers, shapes, strict=True):
        if isinstance(layer, Conv2D):
            kh, kw = pair(layer.kernel_size)
            found.append(Product(out[0] * out[1], kh * kw * shape[2], out[2], not found))
        elif isinstance(layer, Dense):
            found.append(Product(1, shape[0], out[0], not found))
        shape = out
    return found


def training_flops(model: Sequential, in_shape: tuple) -> int:
    """Multiply-adds x 2 of one training image: each conv and dense layer costs its forward
    product, the weight gradient (same size), and the input gradient (same size) except for the
    first layer, whose input gradient is never computed. Pooling, ReLU and the loss are
    elementwise and left out."""
    return sum(
        2 * p.rows * p.depth * p.cols * (2 if p.first else 3) for p in products(model, in_shape)
    )


def matmul_peak(n: int = 1024) -> float:
    """Measured float32 matmul FLOP/s of this machine through XLA (an n x n x n product)."""
    a = jnp.asarray(np.random.default_rng(0).standard_normal((n, n)), jnp.float32)
    f = jax.jit(lambda a, b: a @ b)
    seconds = median_seconds(lambda: block(f(a, a)), windows=5, min_window=0.3)
    return 2 * n**3 / seconds


def matmul_ceiling(
    model: Sequential, in_shape: tuple, batch: int, micro_batch: MicroBatch
) -> float:
    """Images per second if a training step were nothing but its matrix products: every
    layer's forward, weight-gradient and input-gradient products, in the layouts the layers use
    (P @ W, P.T @ dy, dy @ W.T), at the shapes of one micro-batch chunk, in one jitted call. No
    implementation built on these XLA products can train faster, whatever it does elsewhere."""
    chunk = chunk_size(batch, resolve_micro_batch(micro_batch))
    rng = np.random.default_rng(0)
    found = products(model, in_shape)
    operands = []
    for p in found:
        m = chunk * p.rows
        operands.append(
            tuple(
                jnp.asarray(rng.standard_normal(s), jnp.float32)
                for s in ((m, p.depth), (p.depth, p.cols), (m, p.cols))
            )
        )
    firsts = [p.first for p in found]

    @jax.jit
    def only_products(operands: list) -> list:
        out = []
        for (x, w, dy), first in zip(operands, firsts, strict=True):
            out += [x @ w, x.T @ dy] + ([] if first else [dy @ w.T])
        return out

    seconds = median_seconds(lambda: block(only_products(operands)), windows=5, min_window=0.2)
    return chunk / seconds


def ours_window(
    model: Sequential, batch: int, data: DeviceArrays, steps: int, micro_batch: MicroBatch
) -> Callable[[], None]:
    optimizer = adam(1e-3)
    state = init_state(model, optimizer, (28, 28, 1), seed=0)
    step = make_train_step(model, optimizer, micro_batch=micro_batch)
    plan = list(batches(len(data.y), batch, seed=0))

    def run() -> None:
        nonlocal state
        sums = EpochSums.zeros()
        for i in range(steps):
            b = plan[i % len(plan)]
            state, sums = step(state, sums, data, b.index, b.weight)
        block(sums)

    return run


def cell(rate: dict, key: str) -> str:
    return f"{rate[key]:>13,.0f}" if key in rate else f"{'-':>13}"


def ratio(rate: dict, key: str) -> str:
    return f"{rate['ours'] / rate[key]:>12.2f}" if key in rate else f"{'-':>12}"


def main(argv: Sequence[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128, 512])
    ap.add_argument("--model", choices=[KERAS_CONVNET, "default"], default=KERAS_CONVNET)
    ap.add_argument("--images", type=int, default=8192, help="images per timed window")
    ap.add_argument("--windows", type=int, default=5, help="timed windows per framework")
    ap.add_argument(
        "--micro-batch",
        type=int,
        nargs="+",
        metavar="N",
        help="our chunk size (0: whole batches; default: the platform's, as in training); "
        "further sizes are timed in the same alternation and compared with the first",
    )
    ap.add_argument("--no-peers", action="store_true", help="time this project only")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = ap.parse_args(argv)
    micro: MicroBatch = "auto" if args.micro_batch is None else (args.micro_batch[0] or None)
    others = [m or None for m in (args.micro_batch or [])[1:]]
    chunk_limit = resolve_micro_batch(micro)

    model = keras_convnet() if args.model == KERAS_CONVNET else cnn.build_model(10)
    flops = training_flops(model, (28, 28, 1))
    peak = matmul_peak()
    print(f"Machine: {machine()}")
    print(
        f"Model: {args.model}, {flops / 1e6:.2f} MFLOP per training image; "
        f"measured matmul peak {peak / 1e9:.1f} GFLOP/s; our micro-batch {chunk_limit}"
    )
    rng = np.random.default_rng(0)
    n = max(args.images, 4 * max(args.batch_sizes))
    x = rng.random((n, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, n).astype(np.int32)
    data = to_device(x, y)
    peers_ok = not args.no_peers and args.model == KERAS_CONVNET
    if not args.no_peers and args.model != KERAS_CONVNET:
        print("peers: only the keras_convnet model is defined for PyTorch and Keras; skipped")

    rows = []
    header = (
        f"{'batch':>6}{'ours img/s':>12}{'torch img/s':>13}{'keras img/s':>13}"
        f"{'ours/torch':>12}{'ours/keras':>12}{'% of peak':>11}"
        f"{'ceiling img/s':>15}{'% of peak':>11}"
    )
    print(header)
    for bs in args.batch_sizes:
        steps = max(1, args.images // bs)
        runners = {"ours": ours_window(model, bs, data, steps, micro)}
        for m in others:
            runners[f"micro_{m or 0}"] = ours_window(model, bs, data, steps, m)
        if peers_ok:
            t = torch_trainer(bs, x, y)
            if t is not None:
                runners["torch"] = lambda t=t, s=steps: [t() for _ in range(s)][-1].item()
            k = keras_trainer(bs, x, y, steps)
            if k is not None:
                runners["keras"] = k
        for f in runners.values():  # warm-up and compile
            f()
        times: dict[str, list[float]] = {k: [] for k in runners}
        for _ in range(args.windows):  # alternate so that drift hits every framework alike
            for name, f in runners.items():
                start = time.perf_counter()
                f()
                times[name].append(time.perf_counter() - start)
        rate = {k: steps * bs / statistics.median(v) for k, v in times.items()}
        share = rate["ours"] * flops / peak
        ceiling = matmul_ceiling(model, (28, 28, 1), bs, micro)
        rows.append(
            {
                "batch": bs,
                **{f"{k}_img_per_s": v for k, v in rate.items()},
                "ours_share_of_peak": share,
                "matmul_ceiling_img_per_s": ceiling,
                "ceiling_share_of_peak": ceiling * flops / peak,
            }
        )
        print(
            f"{bs:>6}{rate['ours']:>12,.0f}{cell(rate, 'torch')}{cell(rate, 'keras')}"
            f"{ratio(rate, 'torch')}{ratio(rate, 'keras')}{100 * share:>10.1f}%"
            f"{ceiling:>15,.0f}{100 * ceiling * flops / peak:>10.1f}%"
        )
        for m in others:
            other = rate[f"micro_{m or 0}"]
            print(
                f"{'':>6}micro-batch {m or 'off'}: {other:,.0f} img/s; "
                f"ours / this {rate['ours'] / other:.2f}"
            )
    if peers_ok:
        for name, probe in (
            ("torch", lambda: torch_trainer(1, x, y)),
            ("keras", lambda: keras_trainer(1, x, y, 1)),
        ):
            if probe() is None:
                print(missing_note(name))
    result = {
        "benchmark": "train",
        "machine": machine(),
        "model": args.model,
        "mflop_per_image": flops / 1e6,
        "matmul_peak_gflops": peak / 1e9,
        "micro_batch": chunk_limit,
        "rows": rows,
    }
    print(
        "ceiling: the step's matrix products alone, at the same shapes, with nothing else; "
        "no implementation on XLA's products can train faster"
    )
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
