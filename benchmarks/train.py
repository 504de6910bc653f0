"""Training throughput (images per second) of every recipe's network at several batch sizes:
this project against the same network in PyTorch on CPU (benchmarks/peers.py translates it
layer by layer), in float32 and in mixed precision (our ``--precision bf16``; PyTorch's
``torch.autocast`` with bfloat16), and Keras 3 on JAX for the Keras convnet; all with the same
initialisation and Adam, measured in one invocation, alternating window by window, with ratios.
Also each model's FLOPs per training image and our share of the machine's matmul peak
(benchmarks/flops.py), measured in the same run.

    python -m benchmarks.train [--models keras_convnet default fast best] [--batch-sizes 32 128 512]
                               [--precisions f32 bf16] [--windows 5] [--no-peers] [--json PATH]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence

import numpy as np

from benchmarks.flops import (
    Product,
    matmul_ceiling,
    matmul_peak,
    matmul_products,
    products,
    training_flops,
)
from benchmarks.peers import (
    KERAS_CONVNET,
    MODELS,
    keras_trainer,
    missing_note,
    torch_trainer,
)
from benchmarks.timing import block, machine, write_json
from nn import Sequential
from nn.batches import DeviceArrays, batches, to_device
from nn.micro_batch import MicroBatch, resolve_micro_batch
from nn.precision import PRECISIONS, with_precision
from nn.train import EpochSums, adam, init_state, make_train_step

__all__ = ["Product", "main", "products", "training_flops"]

PEAK_N, PEAK_REPS = 1024, 8  # a peak window: 8 products of 1024^3 (17 GFLOP)


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


def runners_for(
    name: str, bs: int, data: DeviceArrays, x: np.ndarray, y: np.ndarray, args: argparse.Namespace
) -> dict[str, Callable[[], object]]:
    """The timed functions of one (model, batch): ours and the peers, in every precision."""
    steps = max(1, args.images // bs)
    model, micro = MODELS[name](), micro_of(args)
    runners: dict[str, Callable[[], object]] = {}
    for p in args.precisions:
        runners[f"ours_{p}"] = ours_window(with_precision(model, p), bs, data, steps, micro)
    for m in (args.micro_batch or [])[1:]:
        runners[f"micro_{m}"] = ours_window(model, bs, data, steps, m or None)
    for p in args.precisions:  # the peak, measured in the same alternation as the step
        runners[f"peak_{p}"] = matmul_products(p, PEAK_N, PEAK_REPS)
    if not args.no_peers:
        for p in args.precisions:
            t = torch_trainer(bs, x, y, model=model, autocast=p == "bf16")
            if t is not None:
                runners[f"torch_{p}"] = lambda t=t: [t() for _ in range(steps)][-1].item()
        k = keras_trainer(bs, x, y, steps) if name == KERAS_CONVNET else None
        if k is not None:
            runners["keras_f32"] = k
    return runners


def micro_of(args: argparse.Namespace) -> MicroBatch:
    return "auto" if args.micro_batch is None else (args.micro_batch[0] or None)


def timed(runners: dict[str, Callable[[], object]], windows: int) -> dict[str, float]:
    """Median seconds per window of each runner, the runners alternating window by window so
    that the machine's drift hits them alike (after one warm-up call each, which compiles)."""
    for f in runners.values():
        f()
    times: dict[str, list[float]] = {k: [] for k in runners}
    for _ in range(windows):
        for name, f in runners.items():
            start = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def report(name: str, bs: int, rate: dict[str, float], args: argparse.Namespace) -> str:
    """One line of the table: every rate, then ours over each peer and bf16 over f32."""
    parts = [f"{k} {v:,.0f}" for k, v in rate.items() if not k.startswith("peak")]
    for p in args.precisions:
        for peer in ("torch", "keras"):
            if f"{peer}_{p}" in rate:
                parts.append(f"ours/{peer} {p} {rate[f'ours_{p}'] / rate[f'{peer}_{p}']:.2f}")
    if "ours_bf16" in rate and "ours_f32" in rate:
        parts.append(f"ours bf16/f32 {rate['ours_bf16'] / rate['ours_f32']:.2f}")
    return f"{name:<14}{bs:>6}  " + ", ".join(parts)


def main(argv: Sequence[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128, 512])
    ap.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=list(PRECISIONS))
    ap.add_argument("--images", type=int, default=8192, help="images per timed window")
    ap.add_argument("--windows", type=int, default=5, help="timed windows per runner")
    ap.add_argument(
        "--micro-batch",
        type=int,
        nargs="+",
        metavar="N",
        help="our chunk size (0: whole batches; default: the platform's, as in training); "
        "further sizes are timed (in f32) in the same alternation",
    )
    ap.add_argument("--no-peers", action="store_true", help="time this project only")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = ap.parse_args(argv)
    chunk_limit = resolve_micro_batch(micro_of(args))
    peak = {p: matmul_peak(dtype=p) for p in args.precisions}
    print(f"Machine: {machine()}")
    print(
        "measured matmul peak (XLA, 1024^3): "
        + ", ".join(f"{p} {v / 1e9:.1f} GFLOP/s" for p, v in peak.items())
        + f"; our micro-batch {chunk_limit}"
    )
    rng = np.random.default_rng(0)
    n = max(args.images, 4 * max(args.batch_sizes))
    x = rng.random((n, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, n).astype(np.int32)
    data = to_device(x, y)
    result: dict = {
        "benchmark": "train",
        "machine": machine(),
        **{f"{p}_matmul_peak_gflops": v / 1e9 for p, v in peak.items()},
        "micro_batch": chunk_limit,
        "models": {},
    }
    for name in args.models:
        flops = training_flops(MODELS[name](), (28, 28, 1))
        print(f"\n{name}: {flops / 1e6:.2f} MFLOP per training image (img/s, then ratios)")
        rows = []
        for bs in args.batch_sizes:
            seconds = timed(runners_for(name, bs, data, x, y, args), args.windows)
            rate = {k: max(1, args.images // bs) * bs / v for k, v in seconds.items()}
            here = {p: PEAK_REPS * 2 * PEAK_N**3 / seconds[f"peak_{p}"] for p in args.precisions}
            ceiling = matmul_ceiling(MODELS[name](), (28, 28, 1), bs, micro_of(args))
            share = {p: rate[f"ours_{p}"] * flops / here[p] for p in args.precisions}
            rows.append({
                "batch": bs, **{f"{k}_img_per_s": v for k, v in rate.items() if "peak" not in k},
                **{f"{p}_matmul_peak_gflops": v / 1e9 for p, v in here.items()},
                **{f"ours_{p}_share_of_{p}_peak": v for p, v in share.items()},
                "matmul_ceiling_img_per_s": ceiling,
            })  # fmt: skip
            print(report(name, bs, rate, args))
            print(
                f"{'':>20}share of the peak measured in the same alternation: "
                + ", ".join(f"{p} {100 * v:.1f}% of {here[p] / 1e9:.0f}" for p, v in share.items())
                + f" GFLOP/s; f32 products alone {ceiling:,.0f} img/s"
            )
        result["models"][name] = {"mflop_per_image": flops / 1e6, "rows": rows}
    if not args.no_peers:
        if torch_trainer(1, x[:2], y[:2]) is None:
            print(missing_note("torch"))
        if KERAS_CONVNET in args.models and keras_trainer(1, x[:2], y[:2], 1) is None:
            print(missing_note("keras"))
    print(
        "products alone: the step's f32 matrix products at the same shapes, with nothing else; "
        "no f32 implementation on XLA's products can train faster"
    )
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
