"""Each benchmark runs at a tiny size and prints its table (peers skipped when absent)."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.cli import run_module

pytestmark = pytest.mark.slow


def test_layers_benchmark_prints_its_table(tmp_path):
    proc = run_module(
        "benchmarks.layers",
        "--batch-sizes",
        "2",
        "--windows",
        "1",
        "--min-window",
        "0.001",
        "--json",
        tmp_path / "l.json",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "ours/autodiff" in proc.stdout and "conv2 3x3 32->64 same" in proc.stdout
    rows = json.loads((tmp_path / "l.json").read_text())["rows"]
    assert len(rows) == 5 and all(r["ours_ms"] > 0 for r in rows)


def test_train_benchmark_prints_throughput_flops_and_peak(tmp_path):
    proc = run_module(
        "benchmarks.train",
        *("--models", "keras_convnet", "best", "--batch-sizes", "8", "--images", "16"),
        *("--windows", "1", "--micro-batch", "4", "0", "--json", tmp_path / "t.json"),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "MFLOP per training image" in out and "matmul peak" in out and "ours_f32" in out
    result = json.loads((tmp_path / "t.json").read_text())
    assert result["f32_matmul_peak_gflops"] > 0 and result["bf16_matmul_peak_gflops"] > 0
    keras = result["models"]["keras_convnet"]
    assert 14.0 < keras["mflop_per_image"] < 15.0  # the Keras convnet: about 14.3 MFLOP
    assert result["models"]["best"]["mflop_per_image"] > keras["mflop_per_image"]
    row = keras["rows"][0]
    assert row["ours_f32_img_per_s"] > 0 and row["ours_bf16_img_per_s"] > 0
    # the matrix products alone are part of the step, so they cannot be slower than all of it
    assert row["matmul_ceiling_img_per_s"] > row["ours_f32_img_per_s"]
    assert "products alone" in out and "ours bf16/f32" in out
    assert result["micro_batch"] == 4 and row["micro_0_img_per_s"] > 0  # 0: whole batches
    for peer in ("torch", "keras"):  # either measured or skipped with a note
        assert f"{peer}_f32_img_per_s" in row or f"{peer}: not installed" in out
    if "torch_bf16_img_per_s" in row:  # PyTorch's autocast, beside ours in bf16
        assert "ours/torch bf16" in out


def test_products_are_the_im2col_and_dense_matrices_of_each_layer():
    from benchmarks.peers import keras_convnet
    from benchmarks.train import Product, products, training_flops

    found = products(keras_convnet(), (28, 28, 1))
    assert found == [
        Product(rows=26 * 26, depth=9, cols=32, first=True),  # conv 3x3, 1 -> 32 channels
        Product(rows=11 * 11, depth=9 * 32, cols=64, first=False),  # conv 3x3, 32 -> 64
        Product(rows=1, depth=5 * 5 * 64, cols=10, first=False),  # dense 1600 -> 10
    ]
    forward = sum(2 * p.rows * p.depth * p.cols for p in found)
    assert training_flops(keras_convnet(), (28, 28, 1)) == 3 * forward - 2 * 26 * 26 * 9 * 32


def test_time_to_accuracy_benchmark_races_each_recipe_in_its_own_process(shared_data_dir, tmp_path):
    proc = run_module(
        "benchmarks.time_to_accuracy",
        "--data-dir",
        shared_data_dir,
        "--subset",
        "640",
        "--epochs",
        "1",
        "--racers",
        "fast",
        "cnn",
        "torch-fast",
        "--target",
        "0.5",
        "--json",
        tmp_path / "a.json",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "reached" in proc.stdout and "experiments.fast recipe" in proc.stdout
    results = json.loads((tmp_path / "a.json").read_text())["results"]
    pids = {results[r]["pid"] for r in results}
    assert len(pids) == len(results) >= 2  # each racer in a process of its own
    for racer in ("fast", "cnn"):
        trace = results[racer]["trace"]
        assert trace and all(p["seconds"] > 0 for p in trace)
        assert [p["seconds"] for p in trace] == sorted(p["seconds"] for p in trace)
    if "torch-fast" not in results:  # PyTorch is an optional extra: a note, not an error
        assert "torch: not installed" in proc.stdout


def test_scaling_benchmark_prints_steps_per_second_per_device_count(tmp_path):
    proc = run_module(
        "benchmarks.scaling",
        "--devices",
        "1",
        "2",
        "--steps",
        "2",
        "--batch-size",
        "8",
        "--json",
        tmp_path / "s.json",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "steps/s" in proc.stdout
    rows = json.loads((tmp_path / "s.json").read_text())["rows"]
    assert [r["devices"] for r in rows if r["platform"] == "cpu"] == [1, 2]
    assert all(r["steps_per_s"] > 0 for r in rows)


@pytest.mark.parametrize("recipe", ["fast", "cnn", "best"])
def test_pytorch_translation_computes_our_networks_forward(recipe):
    """benchmarks.peers.torch_model builds the same function: with our weights copied in, its
    logits equal ours (evaluation mode), so torch-fast races the network experiments.fast trains."""
    torch = pytest.importorskip("torch")
    from benchmarks.peers import torch_model
    from experiments.registry import EXPERIMENTS

    model = EXPERIMENTS[recipe].build_model(10)
    params, state, _ = model.init(jax.random.key(0), (28, 28, 1))
    net = torch_model(model, (28, 28, 1)).eval()
    ours = [p for p in params if p]  # the layers with weights, in order
    theirs = [m for m in net if any(True for _ in m.parameters(recurse=False))]
    assert len(ours) == len(theirs)
    with torch.no_grad():
        for p, m in zip(ours, theirs, strict=True):
            if "w" in p:  # conv (KH, KW, C, F) -> (F, C, KH, KW); dense (D, U) -> (U, D)
                w = np.array(p["w"])
                m.weight.copy_(
                    torch.from_numpy(
                        np.ascontiguousarray(w.transpose(3, 2, 0, 1) if w.ndim == 4 else w.T)
                    )
                )
                if "b" in p:
                    m.bias.copy_(torch.from_numpy(np.array(p["b"])))
            else:  # BatchNorm: scale and shift; running statistics stay at their 0 and 1
                m.weight.copy_(torch.from_numpy(np.array(p["gamma"])))
                m.bias.copy_(torch.from_numpy(np.array(p["beta"])))
        x = np.random.default_rng(0).random((4, 28, 28, 1), np.float32)
        logits, _, _ = model.forward(params, state, jnp.asarray(x), train=False)
        theirs_out = net(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy()
    np.testing.assert_allclose(theirs_out, np.asarray(logits), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("total", [*range(1, 13), 936])
def test_pytorch_peer_follows_our_one_cycle_rates_step_by_step(total):
    """The torch-fast racer's learning rate at every step is nn.train.one_cycle's."""
    pytest.importorskip("torch")
    from benchmarks.peers import torch_trainer
    from experiments.recipes import fast
    from nn.train import one_cycle

    with jax.numpy_dtype_promotion("standard"):  # optax mixes bool and float in its schedule
        ours = np.asarray(jax.vmap(one_cycle(1e-2, total))(jnp.arange(total)))
    x = np.zeros((8, 28, 28, 1), np.float32)
    step = torch_trainer(4, x, np.zeros(8, np.int32), 1e-2, model=fast.build_model(10), rates=ours)
    used = []
    for _ in range(total):
        used.append(step.optimizer.param_groups[0]["lr"])
        step()
    np.testing.assert_allclose(used, ours, rtol=1e-6)
