"""How JAX runs this project's programs, in one place: the persistent compilation cache, and
which XLA options we set, for the programs that run once and for the train and evaluation
steps (see below).

Compilation cache. A run compiles a handful of programs (the train state's initialiser, the
train step, the evaluation step); on the 2-core CPU of BENCHMARKS.md that is most of the time
before the first step. ``use_compilation_cache`` turns on JAX's persistent cache, so that the
next run with the same model, batch and options loads the compiled programs from disk instead
(experiments.fast's start-up, first evaluation included: see BENCHMARKS.md, "Speed (issue 21)").
Every program is cached, however quickly it compiled (``jax_persistent_cache_min_compile_time_secs``
is 0: the small ones add up), in ``$XDG_CACHE_HOME/handjax/jax`` (default ``~/.cache/...``), kept
under 1 GiB: by JAX, evicting the least recently used entries, where the optional ``filelock``
package is installed (JAX needs it to bound the cache; entries written without it first get the
access-time files JAX's bound reads), else by us at start-up, deleting the oldest entries first
(handjax depends on no package beyond jax, jaxlib, optax and numpy). A folder the user already
gave JAX (``JAX_COMPILATION_CACHE_DIR``) is used as it is, with whatever bound they set;
``JAX_ENABLE_COMPILATION_CACHE=false`` turns the cache off.

XLA options. ``ONE_SHOT`` compiles a program that runs once or twice (a figure's: the saliency
maps and the augmentation draws of a run folder) at XLA's lowest backend optimisation level: in
a third to a half of the time (saliency of the default CNN 1.3-1.6 -> 0.4-0.5 s, 8 augmented
images 0.8-0.9 -> 0.3 s), while the program's run time stays a few milliseconds. ``INIT`` is
the level for the initialiser (nn/train.py's ``init_state``), which runs once too but must give
the very weights the default level gives (every recorded seed's run starts from them): at the
lowest level about half of them round differently in the last bit; one level up they are
bit-identical for every recipe on the CPU (tests/test_runtime.py checks, on the machine it runs
on), and the default CNN's initialiser compiles in 0.59-0.63 s instead of 1.01-1.08 s.

``STEP`` is for the programs that run many times, the train and evaluation steps, on a CPU
(``step_options``): XLA's older emitters for its fused elementwise loops instead of the newer
MLIR-based "fusion emitters". They compile a step in 50-68% of the time (experiments.fast's train
step 1.8-4.8 -> 1.0-2.4 s on a noisy machine, the main job's network's 3.1-6.2 -> 1.9-3.9 s, an
evaluation step 0.38 -> 0.26 s), and the step runs as fast (0.90-1.17x, alternating in one
process; BENCHMARKS.md, "Start-up, late on 2026-12-03"). They give the very same bits for every
operation alone, for the evaluation steps, and for the recipes' train steps of models without
batch statistics trained without augmentation; but they round the fused sums of the warping
augmentation and of BatchNorm's batch statistics differently in the last bit, which would move
every recorded run of experiments.cnn on MNIST and of experiments.best, so a train step with any
augmentation or with batch statistics keeps XLA's defaults (nn/train.py). At a batch size with
an odd number of 16-image chunks (48, say: no recipe's) they also round the dense layers' summed
gradients differently (about 1e-6): other numbers, as good. tests/test_runtime.py checks every
recipe's step against the defaults bit for bit. A program compiled with options must be called
at the top level: JAX refuses to trace it inside another ``jax.jit`` (or ``make_jaxpr``,
``eval_shape``) on a CPU.

Other options for the train step were measured on the whole step against the defaults,
alternating in one process (``jax.jit(...).lower(...).compile(compiler_options=...)``):
YNNPACK fusions of elementwise work and reductions (``xla_cpu_experimental_ynn_fusion_type``),
512-bit vectors (``xla_cpu_prefer_vector_width``), XNNPACK graph fusion, the fast-runtime preset
and the concurrency-optimised scheduler; none was faster on the default model or the Keras convnet
(BENCHMARKS.md). An option that wins on some CPU belongs here, chosen by the CPU's features.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import jax
from jax.sharding import Mesh

ONE_SHOT = {"xla_backend_optimization_level": 0}  # jax.jit(f, compiler_options=ONE_SHOT)
INIT = {"xla_backend_optimization_level": 1}  # the default is 3; 1 gives the same weights
STEP = {"xla_cpu_use_fusion_emitters": False}  # a CPU's train and evaluation steps: step_options
CACHE_LIMIT_BYTES = 1 << 30  # our cache's bound (JAX's LRU eviction, or oldest-first at start-up)


def device_platform(mesh: Mesh | None = None) -> str:
    """The platform ("cpu", "gpu", "tpu") of the mesh's devices, or of the default device."""
    return (mesh.devices.flat[0] if mesh is not None else jax.devices()[0]).platform


def step_options(mesh: Mesh | None = None) -> dict[str, object]:
    """The XLA options of a train or evaluation step on the mesh's devices (the default device
    without a mesh): ``STEP`` on a CPU, none elsewhere (the option is XLA's CPU backend's)."""
    return dict(STEP) if device_platform(mesh) == "cpu" else {}


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/handjax/jax (default ~/.cache/handjax/jax)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "handjax" / "jax"


def use_compilation_cache(folder: str | os.PathLike | None = None) -> Path:
    """Turn on JAX's persistent compilation cache in ``folder`` (default: the folder JAX was
    already given, else ``default_cache_dir()``) for every program compiled from now on, and
    return the folder. Call it before the first compilation that should be cached."""
    given = jax.config.jax_compilation_cache_dir
    path = Path(folder) if folder is not None else Path(given or default_cache_dir())
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    if given and folder is None:  # the user's folder: its bound, if any, is theirs to set
        return path
    if importlib.util.find_spec("filelock") is not None:
        give_access_times(path)
        jax.config.update("jax_compilation_cache_max_size", CACHE_LIMIT_BYTES)
    else:  # JAX would refuse to read or write any entry with a bound set and no filelock
        prune(path, CACHE_LIMIT_BYTES)
    return path


def give_access_times(folder: Path) -> None:
    """Write the access-time file JAX's bounded cache keeps beside each entry (``KEY-atime``: the
    time in nanoseconds, 8 bytes little-endian) for every entry that lacks one, taking the
    entry's modification time. Entries written without a bound (without filelock, or by a
    process that gave JAX its own folder) have none, and JAX's bounded cache reads every entry's
    before each write: one missing file made every later write fail with a warning."""
    for path in folder.glob("*-cache"):
        atime = path.with_name(path.name.removesuffix("-cache") + "-atime")
        try:
            if not atime.exists():
                atime.write_bytes(path.stat().st_mtime_ns.to_bytes(8, "little"))
        except OSError:  # another process's entry, just deleted; a read-only folder
            continue


def prune(folder: Path, limit_bytes: int) -> None:
    """Delete the oldest compiled programs in ``folder`` until the rest take at most
    ``limit_bytes``. A deleted entry is only a cache miss for the next run, so an entry that
    cannot be read or deleted (another process's, a read-only folder) is passed over."""
    entries = []
    for path in folder.glob("*-cache"):
        try:
            info = path.stat()
        except OSError:
            continue
        entries.append((info.st_mtime, info.st_size, path))
    total = sum(size for (_, size, _) in entries)
    for _, size, path in sorted(entries):
        if total <= limit_bytes:
            break
        try:
            path.unlink(missing_ok=True)
            path.with_name(path.name.removesuffix("-cache") + "-atime").unlink(missing_ok=True)
        except OSError:
            continue
        total -= size
