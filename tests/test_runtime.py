"""How JAX runs our programs (nn/runtime.py). The persistent compilation cache: a second process
finds what the first one compiled, and gets the same numbers from it, with or without the
optional filelock package (JAX needs it to bound the cache; handjax does not depend on it), and
the cache stays bounded. The XLA options: the initialiser's and the train and evaluation steps'
change no number that a recorded run depends on."""

import os
import subprocess
import sys

import pytest

from experiments.registry import EXPERIMENTS
from nn.runtime import prune
from tests.cli import ROOT, command_env

PROGRAM = """
import sys
if sys.argv[2] == "no-filelock":
    sys.modules["filelock"] = None  # as on a machine without it: importing it fails
import jax, jax.numpy as jnp
from nn.runtime import use_compilation_cache
print(use_compilation_cache(None if sys.argv[1] == "-" else sys.argv[1]))
k = float(sys.argv[3])  # a different constant compiles a different program
f = jax.jit(lambda x: jnp.tanh(k * x @ x.T).sum(axis=0))
print(repr(float(f(jnp.arange(12.0).reshape(3, 4) / 7).sum())))
"""


def run(folder: str, env: dict, filelock: str = "filelock", k: float = 1.0) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROGRAM, folder, filelock, repr(k)],
        capture_output=True, text=True, timeout=300, env=command_env(env), cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Warning" not in proc.stderr, proc.stderr[-2000:]  # e.g. a cache entry not read
    return proc.stdout.split()


@pytest.mark.parametrize("filelock", ["filelock", "no-filelock"])
def test_second_process_reads_what_the_first_compiled(tmp_path, filelock):
    if filelock == "filelock":
        pytest.importorskip("filelock", reason="JAX's own bound needs the optional filelock")
    folder = tmp_path / "jax-cache"
    first = run(str(folder), {}, filelock)
    entries = sorted(p.name for p in folder.iterdir() if p.name.endswith("-cache"))
    assert entries, "the first process cached nothing"
    second = run(str(folder), {}, filelock)
    assert second == first  # same folder, same result
    assert sorted(p.name for p in folder.iterdir() if p.name.endswith("-cache")) == entries


def test_a_bounded_cache_takes_over_the_entries_of_an_unbounded_one(tmp_path):
    """Without filelock (or with JAX's bound off) entries are written without the access-time
    files JAX's bounded cache reads before every write; a later process with filelock must still
    write its own entries (it used to warn and cache nothing) and read the old ones."""
    pytest.importorskip("filelock", reason="JAX's own bound needs the optional filelock")
    folder = tmp_path / "jax-cache"
    first = run(str(folder), {}, "no-filelock")
    untimed = {p.name for p in folder.iterdir() if p.name.endswith("-cache")}
    assert untimed and not any(p.name.endswith("-atime") for p in folder.iterdir())
    assert run(str(folder), {}, "filelock", k=2.0) != first  # a new program: written, no warning
    cached = {p.name for p in folder.iterdir() if p.name.endswith("-cache")}
    assert cached > untimed
    assert all((folder / (name.removesuffix("-cache") + "-atime")).exists() for name in cached)
    assert run(str(folder), {}, "filelock") == first


def test_default_folder_is_in_the_user_cache(tmp_path):
    (folder, _) = run("-", {"XDG_CACHE_HOME": str(tmp_path), "JAX_COMPILATION_CACHE_DIR": ""})
    assert folder == str(tmp_path / "handjax" / "jax")
    assert any((tmp_path / "handjax" / "jax").iterdir())


def test_a_folder_given_to_jax_is_kept(tmp_path):
    mine = tmp_path / "mine"
    (folder, _) = run(
        "-", {"XDG_CACHE_HOME": str(tmp_path), "JAX_COMPILATION_CACHE_DIR": str(mine)}
    )
    assert folder == str(mine) and any(mine.iterdir())
    assert not (tmp_path / "handjax").exists()


def test_prune_deletes_the_oldest_entries_until_the_rest_fit(tmp_path):
    for age, name in enumerate(["new", "mid", "old"]):
        (tmp_path / f"{name}-cache").write_bytes(b"x" * 100)
        (tmp_path / f"{name}-atime").write_bytes(b"t")
        os.utime(tmp_path / f"{name}-cache", (1e9 - age, 1e9 - age))
    prune(tmp_path, 250)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "mid-atime", "mid-cache", "new-atime", "new-cache"
    ]  # fmt: skip
    prune(tmp_path, 200)  # already small enough
    assert len(list(tmp_path.iterdir())) == 4
    prune(tmp_path, 0)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_the_initialiser_gives_the_weights_of_the_default_optimisation_level(name):
    """init_state compiles at nn/runtime.py's INIT level to save compile time; its state must
    stay bit for bit what JAX's default level gives, which every recorded seed's run started
    from (checked on the CPU the suite runs on)."""
    import jax
    import numpy as np

    from nn.train import TrainState, adam, init_state

    model, optimizer = EXPERIMENTS[name].build_model(10), adam(1e-3)
    state = init_state(model, optimizer, (28, 28, 1), seed=3)

    def build(key):  # noqa: ANN001, ANN202  (init_state's, compiled at the default level)
        init_key, train_key = jax.random.split(key)
        params, model_state, _ = model.init(init_key, (28, 28, 1))
        return TrainState(params, model_state, optimizer.init(params), train_key)

    default = jax.jit(build)(jax.random.key(3))
    ours, theirs = ((s.params, s.model_state, s.opt_state, jax.random.key_data(s.key))
                    for s in (state, default))  # fmt: skip
    leaves = zip(jax.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(theirs), strict=True)
    assert all(np.array_equal(a, b) for a, b in leaves)


DEFAULT_EMITTERS = {"xla_cpu_use_fusion_emitters": True}  # XLA's default, stated explicitly


def same_bits(a, b) -> bool:  # noqa: ANN001
    import jax
    import numpy as np

    pairs = zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True)
    return all(np.array_equal(x, y) for x, y in pairs)


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_a_recipes_train_step_gives_the_bits_of_xlas_default_options(name):
    """make_train_step compiles with nn/runtime.py's STEP options (XLA's older fusion emitters,
    to compile faster) only where they change no number: each recipe's step, at its batch size
    and with its augmentation (dropout, chunks, the warping augmentation, BatchNorm), must stay
    bit for bit that of XLA's defaults, which every recorded run was trained with (checked on
    the CPU the suite runs on; the warping augmentation and BatchNorm would fail with STEP)."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from data.augment import make_augment, parse_augment
    from nn.batches import to_device
    from nn.train import EpochSums, adam, init_state, make_train_step

    cfg, model = EXPERIMENTS[name].DEFAULTS, EXPERIMENTS[name].build_model(10)
    optimizer, n = adam(1e-2), cfg.batch_size
    rng = np.random.default_rng(0)
    data = to_device(rng.random((n, 28, 28, 1), np.float32), rng.integers(0, 10, n, np.int32))
    index, weight = jnp.arange(n, dtype=jnp.int32), jnp.ones(n, jnp.float32)
    augment = make_augment(parse_augment(cfg.augmentation))
    step = make_train_step(model, optimizer, augment=augment, label_smoothing=cfg.label_smoothing)
    ends = []
    with jax.numpy_dtype_promotion("standard"):  # optax's Adam mixes int and float
        start = (init_state(model, optimizer, (28, 28, 1), seed=1), EpochSums.zeros())
        default = step.lower(*start, data, index, weight).compile(DEFAULT_EMITTERS)
        for run in (step, default):
            state, sums = jax.tree_util.tree_map(jnp.copy, start)
            for _ in range(3):
                state, sums = run(state, sums, data, index, weight)
            ends.append(jax.device_get((state.params, state.model_state, sums)))
    assert same_bits(*ends)


@pytest.mark.parametrize("name", ["cnn", "best"])
def test_an_evaluation_step_gives_the_bits_of_xlas_default_options(name):
    """make_eval_step compiles with the STEP options; its losses and probabilities, at the
    experiments' evaluation batch (250 images: 25 chunks of 10), with the one-pixel shifts and
    BatchNorm's running statistics, are those of XLA's defaults."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from data.views import TEST_VIEWS
    from nn.batches import to_device
    from nn.evaluate import make_eval_step
    from nn.train import adam, init_state

    model = EXPERIMENTS[name].build_model(10)
    with jax.numpy_dtype_promotion("standard"):  # optax's Adam mixes int and float
        state = init_state(model, adam(1e-3), (28, 28, 1), seed=2)
    rng = np.random.default_rng(1)
    data = to_device(rng.random((250, 28, 28, 1), np.float32), rng.integers(0, 10, 250, np.int32))
    index, weight = jnp.arange(250, dtype=jnp.int32), jnp.ones(250, jnp.float32)
    step = make_eval_step(model, views=TEST_VIEWS["shifts"])
    args = (state.params, state.model_state, data, index, weight)
    default = step.lower(*args).compile(DEFAULT_EMITTERS)
    assert same_bits(step(*args), default(*args))


def test_steps_on_a_cpu_take_the_step_options():
    import jax

    from nn.runtime import STEP, step_options

    if jax.devices()[0].platform != "cpu":
        pytest.skip("the options are XLA's CPU backend's")
    assert step_options() == STEP and step_options() is not STEP  # a copy: STEP stays as it is
