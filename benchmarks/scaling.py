"""Data-parallel scaling: training steps per second of the default CNN at a fixed global batch
on 1, 2 and 4 devices. Each device count runs in its own process: on a CPU the devices are
forced (JAX_NUM_CPU_DEVICES), which shares the same cores and is informational only; on a
machine with GPUs, each count of GPUs up to all of them is measured too.

    python -m benchmarks.scaling [--devices 1 2 4] [--batch-size 128] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence

import numpy as np


def measure(devices: int, batch: int, steps: int, platform: str) -> dict:
    """Run in the child process: steps/s of the train step over ``devices`` devices."""
    import jax
    import optax

    from experiments.registry import EXPERIMENTS
    from nn.parallel import Placement, data_mesh
    from nn.train import EpochSums, init_state, make_train_step

    if platform != "cpu":
        jax.config.update("jax_platforms", platform)
    model, optimizer = EXPERIMENTS["cnn"].build_model(10), optax.adam(1e-3)
    place = Placement(data_mesh(devices))
    rng = np.random.default_rng(0)
    n = 8 * batch
    data = place.data(
        rng.random((n, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, n).astype(np.int32)
    )
    state = place.tree(init_state(model, optimizer, (28, 28, 1), seed=0))
    step = make_train_step(model, optimizer, mesh=place.mesh)
    plan = [
        place.rows(rng.permutation(n)[:batch].astype(np.int32), np.ones(batch, np.float32))
        for _ in range(8)
    ]
    sums = place.tree(EpochSums.zeros())
    for i in range(3):  # compile and warm up
        state, sums = step(state, sums, data, *plan[i % 8])
    jax.block_until_ready(sums)
    start = time.perf_counter()
    for i in range(steps):
        state, sums = step(state, sums, data, *plan[i % 8])
        jax.block_until_ready(sums)  # as the training loop does with several devices
    seconds = time.perf_counter() - start
    return {
        "platform": jax.devices()[0].platform,
        "devices": devices,
        "batch": batch,
        "steps_per_s": steps / seconds,
        "images_per_s": steps * batch / seconds,
    }


def gpu_count() -> int:
    import jax

    try:
        return len(jax.devices("gpu"))
    except RuntimeError:
        return 0


def child(devices: int, batch: int, steps: int, platform: str) -> dict:
    env = dict(os.environ)
    if platform == "cpu":
        env |= {"JAX_NUM_CPU_DEVICES": str(devices), "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.scaling",
            "--child",
            str(devices),
            "--batch-size",
            str(batch),
            "--steps",
            str(steps),
            "--platform",
            platform,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{devices} {platform} device(s) failed: {proc.stderr[-500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: Sequence[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.scaling",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--devices", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--batch-size", type=int, default=128, help="global batch (default 128)")
    ap.add_argument("--steps", type=int, default=30, help="timed steps per device count")
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--platform", default="cpu", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child, args.batch_size, args.steps, args.platform)))
        return []

    rows = [child(n, args.batch_size, args.steps, "cpu") for n in args.devices]
    gpus = gpu_count()
    rows += [child(n, args.batch_size, args.steps, "gpu") for n in range(1, gpus + 1)]
    if not gpus:
        print("no GPU here: GPU rows skipped")
    print(
        f"{'platform':<9}{'devices':>8}{'batch':>7}{'steps/s':>10}{'images/s':>11}{'speed-up':>10}"
    )
    base = {}
    for r in rows:
        base.setdefault(r["platform"], r["steps_per_s"])
        print(
            f"{r['platform']:<9}{r['devices']:>8}{r['batch']:>7}{r['steps_per_s']:>10.2f}"
            f"{r['images_per_s']:>11,.0f}{r['steps_per_s'] / base[r['platform']]:>10.2f}"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"benchmark": "scaling", "rows": rows}, f, indent=2)
    return rows


if __name__ == "__main__":
    main()
