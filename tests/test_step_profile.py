"""benchmarks.step_profile: the step's operations, timed by JAX's profiler, land on the code of
ours that made them (benchmarks/hlo_sources.py)."""

import json

import jax
import jax.numpy as jnp
import pytest

from benchmarks.hlo_sources import operations, part_of
from tests.cli import ROOT, run_module


@pytest.mark.slow
def test_step_profile_attributes_the_step_to_our_layers(tmp_path):
    proc = run_module(
        "benchmarks.step_profile",
        *("--model", "fast", "--batch-size", "32", "--steps", "2", "--json", tmp_path / "p.json"),
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
    # two chunks of 16 images, each through two convolutions: four forward products a step
    assert parts["Conv2D.forward"]["ops"] == 4 and r["chunk"] == 16
    assert sum(p["ms"] for p in parts.values()) == pytest.approx(r["busy_ms"])
    assert r["busy_ms"] + r["idle_ms"] == pytest.approx(r["cores"] * r["traced_ms"])


def test_step_profile_rejects_a_batch_of_zero():
    proc = run_module("benchmarks.step_profile", "--batch-size", "0")
    assert proc.returncode == 2 and "--batch-size and --steps must be at least 1" in proc.stderr


def test_each_operation_is_named_for_the_layer_method_and_helper_that_made_it():
    from nn import Conv2D

    conv = Conv2D(4, 3, padding="same")
    params, _, _ = conv.init(jax.random.key(0), (6, 6, 2))

    def forward_backward(params, x, dy):
        y, cache, _ = conv.forward(params, {}, x)
        return y, conv.backward(params, cache, dy)

    x, dy = jnp.ones((2, 6, 6, 2), jnp.float32), jnp.ones((2, 6, 6, 4), jnp.float32)
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
