"""What a JAX profiler trace (``jax.profiler.trace(dir, create_perfetto_trace=True)``) says about
one compiled program on a CPU: how long each of its operations ran, and how long the threads
were busy at all.

The trace holds, per thread, a span for every operation the program ran (``args.hlo_op``; XLA
also writes an instant "end: NAME" marker, which is not a span of its own) and the thread pool's
task regions (``ThreadpoolListener::StartRegion`` ... ``StopRegion``). Work the pool does
outside any operation's span is the runtime's own bookkeeping and the tasks of operations that
return before their work is done (Eigen's matrix products hand their blocks to the pool).
"""

from __future__ import annotations

import collections
import gzip
import json
from pathlib import Path

Event = dict  # one entry of the trace's "traceEvents"


def read_trace(trace_dir: Path) -> list[Event]:
    """The events of the perfetto trace the profiler wrote under ``trace_dir``."""
    found = sorted(Path(trace_dir).rglob("perfetto_trace.json.gz"))
    if not found:
        raise RuntimeError(f"the profiler wrote no perfetto trace under {trace_dir}")
    with gzip.open(found[-1]) as f:
        return json.load(f)["traceEvents"]


def op_spans(events: list[Event], module: str) -> list[Event]:
    """The spans of the operations of the program ``module`` (e.g. "jit_step")."""
    return [
        e
        for e in events
        if e.get("ph") == "X"
        and e.get("args", {}).get("hlo_module") == module
        and e.get("name") == e.get("args", {}).get("hlo_op")
    ]


def op_runs(spans: list[Event]) -> dict[str, list[float]]:
    """Seconds of every run of each operation, by operation name."""
    runs: dict[str, list[float]] = collections.defaultdict(list)
    for e in spans:
        runs[e["name"]].append(e["dur"] / 1e6)
    return dict(runs)


def merged(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The union of (start, end) intervals, as disjoint intervals."""
    out: list[tuple[float, float]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def core_time(threads: list[list[tuple[float, float]]], cores: int) -> float:
    """The core time the threads' intervals account for: at each moment, the number of threads
    with work, but at most ``cores`` (a thread the system set aside keeps its span open)."""
    edges = sorted(
        (t, +1 if i == 0 else -1)
        for intervals in threads
        for a, b in merged(intervals)
        for i, t in enumerate((a, b))
    )
    total, active, last = 0.0, 0, 0.0
    for t, step in edges:
        total += min(active, cores) * (t - last)
        active, last = active + step, t
    return total


def busy_seconds(events: list[Event], spans: list[Event], cores: int) -> tuple[float, float, float]:
    """(window, operations, busy) in seconds: the time from the first span's start to the last
    span's end; the core time within it in which threads ran the spans; and the core time in
    which they ran a span or a thread-pool task (``core_time``)."""
    start = min(e["ts"] for e in spans)
    stop = max(e["ts"] + e["dur"] for e in spans)
    ops: dict[tuple, list[tuple[float, float]]] = collections.defaultdict(list)
    for e in spans:
        ops[e["pid"], e["tid"]].append((e["ts"], e["ts"] + e["dur"]))
    tasks: dict[tuple, list[tuple[float, float]]] = collections.defaultdict(list)
    opened: dict[tuple, float] = {}
    for e in sorted(events, key=lambda e: e.get("ts", 0.0)):
        thread, name = (e.get("pid"), e.get("tid")), e.get("name", "")
        if name == "ThreadpoolListener::StartRegion":
            opened[thread] = e["ts"]
        elif name == "ThreadpoolListener::StopRegion" and thread in opened:
            tasks[thread].append((opened.pop(thread), e["ts"]))

    def clip(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
        return [(max(a, start), min(b, stop)) for a, b in intervals if b > start and a < stop]

    threads = set(ops) | set(tasks)
    on_ops = core_time([clip(ops[t]) for t in threads], cores)
    on_any = core_time([clip(ops[t] + tasks[t]) for t in threads], cores)
    return (stop - start) / 1e6, on_ops / 1e6, on_any / 1e6
