"""Where a training step's time goes: every operation XLA runs in the jitted step (one recipe's
network, random images), timed by JAX's profiler over a few steps and attributed to the code of
ours that made it (benchmarks/hlo_sources.py): the layer method, and the helper inside it.

    python -m benchmarks.step_profile [--model default] [--batch-size 128] [--steps 16]
                                      [--top 20] [--json PATH]

On a CPU. Times are thread time, summed over the threads (XLA's CPU runtime runs independent
operations side by side and splits large ones across the cores). Each operation counts the
median of its runs, so that a run the machine's other work interrupted does not; each part's
share is of the operations' time. The cores' time while traced splits three ways
(benchmarks/trace_times.py): the operations' spans; other work of the thread pool (the runtime's
executor between operations: its bookkeeping and its waits for an operation's inputs, and the
pool tasks of Eigen's products, which return before their work is done, so that their spans hold
only the dispatch); idle, when no thread had a task (the step's dispatch, and on a shared
machine, other processes). The profiler slows the step down: both timings are printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import jax
import numpy as np

from benchmarks.hlo_sources import module_name, operations
from benchmarks.peers import MODELS
from benchmarks.timing import machine, write_json
from benchmarks.trace_times import busy_seconds, op_runs, op_spans, read_trace
from nn.batches import batches, to_device
from nn.micro_batch import CHUNKS_AT_ONCE, chunk_size, step_micro_batch
from nn.train import EpochSums, adam, init_state, make_train_step


def profile(model_name: str, batch: int, steps: int) -> dict:
    """Time ``steps`` train steps of the named network at ``batch``, then trace as many; return
    the timings and, per part of our code, its operations' ms a step (the JSON fields)."""
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
    text = step.as_text()
    ops = operations(text)

    def run(count: int) -> float:
        """Seconds a step over ``count`` steps."""
        nonlocal state, sums
        start = time.perf_counter()
        for i in range(count):
            b = plan[i % len(plan)]
            state, sums = step(state, sums, data, b.index, b.weight)
        jax.block_until_ready(sums)
        return (time.perf_counter() - start) / count

    run(3)  # warm up
    untraced = run(steps)
    with tempfile.TemporaryDirectory() as tmp:
        with jax.profiler.trace(tmp, create_perfetto_trace=True):
            run(steps)
        events = read_trace(Path(tmp))
    spans = [e for e in op_spans(events, module_name(text)) if not ops[e["name"]].control_flow]
    if not spans:
        raise RuntimeError("the trace holds no operation of the train step")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    window, on_ops, busy = busy_seconds(events, spans, cores)
    parts: dict[str, dict] = {}
    for name, runs in op_runs(spans).items():
        op, per_step = ops[name], len(runs) / steps
        ms = 1e3 * statistics.median(runs) * per_step  # a step's worth of this operation
        part = parts.setdefault(op.part, {"ms": 0.0, "products_ms": 0.0, "ops": 0.0})
        part["ms"] += ms
        part["products_ms"] += ms if op.product else 0.0
        part["ops"] += per_step
    chunk = chunk_size(batch, step_micro_batch("auto", mixes_batch=model.mixes_batch))
    return {
        "model": model_name, "batch": batch, "chunk": chunk, "steps": steps, "cores": cores,
        "untraced_ms": 1e3 * untraced, "traced_ms": 1e3 * window / steps,
        "img_per_s": batch / untraced,
        "operations_ms": sum(p["ms"] for p in parts.values()),  # medians: the parts' sum
        # the cores' time while traced, three ways (benchmarks/trace_times.py's core_time)
        "spans_ms": 1e3 * on_ops / steps,  # the operations' spans as they ran
        "other_work_ms": 1e3 * (busy - on_ops) / steps,  # the thread pool outside any span
        "idle_ms": 1e3 * (cores * window - busy) / steps,
        "products_ms": sum(p["products_ms"] for p in parts.values()),
        "ops_per_step": sum(p["ops"] for p in parts.values()),
        "parts": dict(sorted(parts.items(), key=lambda kv: -kv[1]["ms"])),
    }  # fmt: skip


def report(r: dict, top: int) -> str:
    """The profile as text: the step, the cores' time three ways, then the ``top`` parts."""
    capacity = r["cores"] * r["traced_ms"]
    pieces = (
        "whole batches"
        if r["chunk"] == r["batch"]
        else f"chunks of {r['chunk']}, {CHUNKS_AT_ONCE} at a time"
    )
    share = {k: 100 * r[k] / capacity for k in ("spans_ms", "other_work_ms", "idle_ms")}
    ops_ms = r["operations_ms"]
    lines = [
        f"{r['model']}, batch {r['batch']} ({pieces}): {r['untraced_ms']:.2f} ms a step "
        f"({r['img_per_s']:,.0f} img/s), {r['traced_ms']:.2f} traced; "
        f"{r['ops_per_step']:.0f} operations a step",
        f"the cores' time while traced, {r['cores']} x {r['traced_ms']:.2f} ms a step: operations "
        f"{share['spans_ms']:.0f}%, other work of the thread pool {share['other_work_ms']:.0f}%, "
        f"idle {share['idle_ms']:.0f}%",
        f"operations (median runs): {ops_ms:.2f} ms a step, of which matrix products "
        f"{r['products_ms']:.2f} ({100 * r['products_ms'] / ops_ms:.0f}%)",
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
            f"{name:<46}{p['ms']:>9.3f}{100 * p['ms'] / ops_ms:>6.1f}%"
            f"{p['products_ms']:>10.3f}{p['ops']:>10.1f}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict:
    """Parse the options, profile, print the report; returns the JSON result."""
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
    for flag in ("batch_size", "steps", "top"):
        if getattr(args, flag) < 1:
            ap.error(f"--{flag.replace('_', '-')} must be at least 1, got {getattr(args, flag)}")
    if jax.default_backend() != "cpu":
        ap.error(f"profiles a CPU step (XLA's CPU runtime); this machine runs on "
                 f"{jax.default_backend()}: set JAX_PLATFORMS=cpu")  # fmt: skip
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
