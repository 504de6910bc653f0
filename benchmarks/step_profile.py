"""Where a training step's time goes: every operation XLA runs in the jitted step (one recipe's
network, random images), timed by JAX's profiler over a few steps and attributed to the code of
ours that made it (benchmarks/hlo_sources.py): the layer method, and the helper inside it.

    python -m benchmarks.step_profile [--model default] [--batch-size 128] [--steps 16]
                                      [--top 20] [--json PATH]

Times are thread time: the operations' durations summed over the threads that run them (XLA's
CPU runtime runs independent operations side by side and splits large ones across the cores).
"idle" is what the cores had and no operation used: the runtime's own work between operations,
waits for a dependency, and the dispatch of the step. The profiler slows the step down (both
timings are printed), mostly by adding to the idle time; each part's share is of the operations'
time.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import jax
import numpy as np

from benchmarks.hlo_sources import CONTROL_FLOW, operations
from benchmarks.peers import MODELS
from benchmarks.timing import machine, write_json
from nn.batches import batches, to_device
from nn.micro_batch import CHUNKS_AT_ONCE, chunk_size, resolve_micro_batch
from nn.train import EpochSums, adam, init_state, make_train_step


def op_seconds(trace_dir: Path, names: set[str]) -> tuple[dict[str, float], dict[str, int]]:
    """Seconds of one run of each operation named in ``names`` (the median over its runs, so
    that a run the virtual machine's neighbours interrupted does not count; the profiler writes
    an operation's span and an "end: NAME" marker, both count), and how many times it ran."""
    (path,) = Path(trace_dir).rglob("perfetto_trace.json.gz")
    spans: dict[str, list[float]] = collections.defaultdict(list)
    ends: dict[str, list[float]] = collections.defaultdict(list)
    with gzip.open(path) as f:
        events = json.load(f)["traceEvents"]
    for e in events:
        name = e.get("name", "")
        base = name.removeprefix("end: ")
        if e.get("ph") == "X" and base in names:
            (spans if base == name else ends)[base].append(e["dur"] / 1e6)
    seconds = {
        k: statistics.median(v) + (statistics.median(ends[k]) if ends[k] else 0.0)
        for k, v in spans.items()
    }
    return seconds, {k: len(v) for k, v in spans.items()}


def profile(model_name: str, batch: int, steps: int) -> dict:
    model, optimizer = MODELS[model_name](), adam(1e-3)
    state = init_state(model, optimizer, (28, 28, 1), seed=0)
    rng = np.random.default_rng(0)
    n = max(4096, 2 * batch)
    data = to_device(rng.random((n, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, n))
    plan = list(batches(n, batch, seed=0))
    sums = EpochSums.zeros()
    step = make_train_step(model, optimizer).lower(
        state, sums, data, plan[0].index, plan[0].weight
    ).compile()  # fmt: skip
    ops = operations(step.as_text())

    def run(count: int) -> float:
        nonlocal state, sums
        start = time.perf_counter()
        for i in range(count):
            state, sums = step(
                state, sums, data, plan[i % len(plan)].index, plan[i % len(plan)].weight
            )
        jax.block_until_ready(sums)
        return (time.perf_counter() - start) / count

    run(3)  # warm up
    untraced = run(steps)
    with tempfile.TemporaryDirectory() as tmp:
        with jax.profiler.trace(tmp, create_perfetto_trace=True):
            traced = run(steps)
        seconds, runs = op_seconds(
            Path(tmp), {k for k, o in ops.items() if o.opcode not in CONTROL_FLOW}
        )
    parts: dict[str, dict] = {}
    for name, s in seconds.items():
        op, per_step = ops[name], runs[name] / steps
        p = parts.setdefault(op.part, {"ms": 0.0, "products_ms": 0.0, "ops": 0})
        p["ms"] += 1e3 * s * per_step
        p["products_ms"] += 1e3 * s * per_step if op.product else 0.0
        p["ops"] += per_step
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    busy = sum(p["ms"] for p in parts.values())
    chunk = chunk_size(batch, None if model.mixes_batch else resolve_micro_batch("auto"))
    return {
        "model": model_name, "batch": batch, "chunk": chunk, "steps": steps, "cores": cores,
        "untraced_ms": 1e3 * untraced, "traced_ms": 1e3 * traced,
        "img_per_s": batch / untraced, "busy_ms": busy, "idle_ms": cores * 1e3 * traced - busy,
        "products_ms": sum(p["products_ms"] for p in parts.values()),
        "ops_per_step": sum(p["ops"] for p in parts.values()),
        "parts": dict(sorted(parts.items(), key=lambda kv: -kv[1]["ms"])),
    }  # fmt: skip


def report(r: dict, top: int) -> str:
    capacity, busy = r["busy_ms"] + r["idle_ms"], r["busy_ms"]
    pieces = (
        "whole batches"
        if r["chunk"] == r["batch"]
        else f"chunks of {r['chunk']}, {CHUNKS_AT_ONCE} at a time"
    )
    lines = [
        f"{r['model']}, batch {r['batch']} ({pieces}): "
        f"{r['untraced_ms']:.2f} ms a step ({r['img_per_s']:,.0f} img/s), {r['traced_ms']:.2f} "
        f"traced; {r['ops_per_step']:.0f} operations a step",
        f"thread time while traced: {r['cores']} cores x {r['traced_ms']:.2f} ms = "
        f"{capacity:.2f} ms a step, of which the operations {busy:.2f} ms "
        f"({100 * busy / capacity:.0f}%) and idle {r['idle_ms']:.2f} ms (the runtime between "
        "operations, waits for a dependency)",
        f"matrix products: {r['products_ms']:.2f} ms, {100 * r['products_ms'] / busy:.0f}% of the "
        "operations' time",
        f"{'part (the code that made the operations)':<46}{'ms/step':>9}{'share':>7}"
        f"{'products':>10}{'ops/step':>10}",
    ]
    rows = list(r["parts"].items())
    if len(rows) > top:
        rest = rows[top:]
        rows = rows[:top] + [(f"({len(rest)} more parts)", {
            k: sum(p[k] for _, p in rest) for k in ("ms", "products_ms", "ops")
        })]  # fmt: skip
    for name, p in rows:
        lines.append(
            f"{name:<46}{p['ms']:>9.3f}{100 * p['ms'] / busy:>6.1f}%"
            f"{p['products_ms']:>10.3f}{p['ops']:>10.1f}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.step_profile",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--model", choices=list(MODELS), default="default")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--steps", type=int, default=16, help="steps timed, then traced")
    ap.add_argument("--top", type=int, default=20, help="parts listed; the rest are summed")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = ap.parse_args(argv)
    if args.batch_size < 1 or args.steps < 1:
        ap.error("--batch-size and --steps must be at least 1")
    print(f"Machine: {machine()}")
    result = {
        "benchmark": "step_profile",
        "machine": machine(),
        **profile(args.model, args.batch_size, args.steps),
    }
    print(report(result, args.top))
    if args.json:
        write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
