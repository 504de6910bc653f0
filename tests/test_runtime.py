"""The persistent compilation cache (nn/runtime.py): a second process finds what the first one
compiled, and gets the same numbers from it."""

import subprocess
import sys

from tests.cli import ROOT, command_env

PROGRAM = """
import sys
import jax, jax.numpy as jnp
from nn.runtime import use_compilation_cache
print(use_compilation_cache(None if sys.argv[1] == "-" else sys.argv[1]))
f = jax.jit(lambda x: jnp.tanh(x @ x.T).sum(axis=0))
print(repr(float(f(jnp.arange(12.0).reshape(3, 4) / 7).sum())))
"""


def run(folder: str, env: dict) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROGRAM, folder],
        capture_output=True, text=True, timeout=300, env=command_env(env), cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.split()


def test_second_process_reads_what_the_first_compiled(tmp_path):
    folder = tmp_path / "jax-cache"
    first = run(str(folder), {})
    entries = sorted(p.name for p in folder.iterdir())
    assert entries, "the first process cached nothing"
    second = run(str(folder), {})
    assert second == first  # same folder, same result
    assert sorted(p.name for p in folder.iterdir()) == entries  # a hit adds no entry


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
