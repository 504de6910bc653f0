"""Test configuration: float64 available for finite differences, strict shape and dtype rules
so that a (M,) vs (1, M) bias bug fails loudly, and a deterministic hypothesis profile."""

import os
from pathlib import Path

import jax
import pytest
from hypothesis import HealthCheck, settings

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "strict")

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=20,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", deadline=None, max_examples=60)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The real MNIST / Fashion-MNIST files: $HANDJAX_DATA_DIR, else ../shared/datasets."""
    d = Path(os.environ.get("HANDJAX_DATA_DIR", ROOT.parent / "shared" / "datasets"))
    if not (d / "mnist" / "t10k-labels-idx1-ubyte.gz").exists():
        if os.environ.get("CI"):
            pytest.fail(f"real datasets not found under {d} (CI must provide them)")
        pytest.skip(f"real datasets not found under {d}")
    return d


@pytest.fixture(scope="session")
def mnist_checkpoint(shared_data_dir, tmp_path_factory) -> Path:
    """A CNN trained briefly on real MNIST (12,000 images, 2 epochs, about 98% test accuracy),
    trained once per session for the tests that need a checkpoint."""
    from tests.cli import run_module

    out = tmp_path_factory.mktemp("mnist-checkpoint") / "run"
    proc = run_module(
        "experiments.cnn",
        *("--data-dir", shared_data_dir, "--subset", "12000", "--epochs", "2"),
        *("--offline", "--out", out),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out / "checkpoint.npz"
