"""benchmarks.step_profile: the step's operations, timed by JAX's profiler, land on the code of
ours that made them (benchmarks/hlo_sources.py); and the trace's arithmetic
(benchmarks/trace_times.py)."""

import json

import jax
import jax.numpy as jnp
import pytest

from benchmarks.hlo_sources import operations, part_of
from benchmarks.trace_times import busy_seconds, core_time, merged, op_spans
from tests.cli import ROOT, run_module


@pytest.mark.slow
def test_step_profile_attributes_the_step_to_our_layers(tmp_path):
    proc = run_module(
        "benchmarks.step_profile",
        *("--model", "fast", "--batch-size", "64", "--steps", "2", "--json", tmp_path / "p.json"),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "matrix products" in proc.stdout and "Conv2D.forward > im2col" in proc.stdout
    r = json.loads((tmp_path / "p.json").read_text())
    parts = r["parts"]
    assert {"Conv2D.forward", "Conv2D.backward", "Conv2D.forward > im2col",
            "Conv2D.backward > place_window", "Dense.forward", "Dense.backward",
            "optax (the optimizer update)"} <= set(parts)  # fmt: skip
    # the matrix products are the conv and dense layers' own, and im2col has none
    layers = {"Conv2D.forward", "Conv2D.backward", "Dense.forward", "Dense.backward"}
    for name, p in parts.items():
        assert (p["products_ms"] > 0) == (name in layers), name
    # four chunks of 16 images (a loop of two iterations, two chunks each), each through two
    # convolutions: eight forward products a step, counted inside the loop's body
    assert r["chunk"] == 16 and parts["Conv2D.forward"]["ops"] == 8
    assert min(r["spans_ms"], r["other_work_ms"], r["idle_ms"]) >= 0


@pytest.mark.parametrize("flag", ["--batch-size", "--steps", "--top"])
def test_step_profile_rejects_a_count_below_one(flag):
    proc = run_module("benchmarks.step_profile", flag, "0")
    assert proc.returncode == 2 and f"{flag} must be at least 1, got 0" in proc.stderr


def test_each_operation_is_named_for_the_layer_method_and_helper_that_made_it():
    from nn import Conv2D

    conv = Conv2D(4, 3, padding="same")
    params, _, _ = conv.init(jax.random.key(0), (6, 6, 2))

    def forward_backward(params, x, dy):
        y, cache, _ = conv.forward(params, {}, x)
        return y, conv.backward(params, cache, dy)

    x = jax.random.normal(jax.random.key(1), (2, 6, 6, 2), jnp.float32)
    dy = jax.random.normal(jax.random.key(2), (2, 6, 6, 4), jnp.float32)
    ops = operations(jax.jit(forward_backward).lower(params, x, dy).compile().as_text())
    products = {o.part for o in ops.values() if o.product}
    assert products == {"Conv2D.forward", "Conv2D.backward"}
    assert "Conv2D.forward > im2col" in {o.part for o in ops.values()}


def test_a_helper_is_named_below_its_layer_method_and_library_code_by_its_library():
    conv, model = str(ROOT / "nn" / "conv.py"), str(ROOT / "nn" / "model.py")
    chain = [(conv, "window_slice"), (conv, "Conv2D.im2col.<locals>.<listcomp>"),
             (conv, "Conv2D.im2col"), (conv, "Conv2D.forward"),
             (model, "Sequential.forward")]  # fmt: skip
    assert part_of(chain) == "Conv2D.forward > im2col"
    assert part_of(chain[3:]) == "Conv2D.forward"
    assert part_of([("/x/site-packages/optax/_src/transform.py", "update_moment")]) == (
        "optax (the optimizer update)"
    )
    assert part_of([(f"{ROOT}/nn/train.py", "make_train_step.<locals>.step")]) == "train.py: step"
    assert part_of([]) == "other"


def span(name, ts, dur, tid=1, module="jit_step", hlo_op=None):
    args = {"hlo_module": module, "hlo_op": hlo_op or name}
    return {"ph": "X", "pid": 1, "tid": tid, "ts": ts, "dur": dur, "name": name, "args": args}


def region(start, stop, tid):
    """A thread-pool task from ``start`` to ``stop`` on thread ``tid``."""
    mark = {"ph": "X", "pid": 1, "tid": tid, "dur": 0.0}
    return [{**mark, "ts": start, "name": "ThreadpoolListener::StartRegion"},
            {**mark, "ts": stop, "name": "ThreadpoolListener::StopRegion"}]  # fmt: skip


def test_only_the_programs_own_spans_count_and_end_markers_are_not_spans():
    events = [span("dot.1", 0, 10), span("end: dot.1", 40, 0.1, hlo_op="dot.1"),
              span("add.2", 10, 5, module="jit_other")]  # fmt: skip
    assert [e["name"] for e in op_spans(events, "jit_step")] == ["dot.1"]


def test_core_time_counts_overlaps_once_per_thread_and_at_most_the_cores():
    assert merged([(0, 2), (1, 3), (5, 6)]) == [(0, 3), (5, 6)]
    assert core_time([[(0, 2), (1, 3)]], cores=2) == 3  # one thread: its union
    assert core_time([[(0, 4)], [(2, 6)], [(3, 5)]], cores=2) == 2 + 2 * 3 + 1  # capped at 2


def test_busy_time_splits_into_the_spans_and_the_pools_other_work():
    spans = [span("fusion.1", 0, 4, tid=1), span("dot.2", 4, 1, tid=1)]  # dot.2 returns early
    events = spans + region(4, 9, tid=2) + region(0, 9, tid=1)  # the pool finishes its work
    window, on_ops, busy = busy_seconds(events, spans, cores=2)
    assert (window, on_ops) == pytest.approx((5e-6, 5e-6))  # clipped to the spans' window
    assert busy == pytest.approx(5e-6 + 1e-6)  # thread 2's task region, within the window
