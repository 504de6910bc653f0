"""Timing helpers shared by the benchmarks: warm up first, then take the median of several
timed windows, each long enough to swamp timer and dispatch noise."""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax


def block(out: Any) -> Any:
    """Wait until every array in ``out`` is computed."""
    return jax.block_until_ready(out)


def median_seconds(
    fn: Callable[[], Any], *, windows: int = 5, min_window: float = 0.2, warmup: int = 2
) -> float:
    """Median over ``windows`` of the seconds per call of ``fn()``; each window repeats the call
    until at least ``min_window`` seconds have passed. ``fn`` must block on its result."""
    for _ in range(warmup):
        fn()
    per_call = []
    for _ in range(windows):
        calls, start = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_window:
                break
        per_call.append(elapsed / calls)
    return statistics.median(per_call)


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "device": str(jax.devices()[0].device_kind),
        "platform": jax.devices()[0].platform,
    }


def write_json(path: str | None, payload: dict) -> None:
    if path:
        Path(path).write_text(json.dumps(payload, indent=2) + "\n")
        print(f"Wrote {path}")
