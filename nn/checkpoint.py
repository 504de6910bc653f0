"""Checkpoints: any pytree of arrays (parameters, optimizer state, PRNG keys) saved as one .npz,
written atomically, and loaded back only into a tree of the same structure and shapes.

The file holds the leaves as ``leaf_0000, leaf_0001, ...`` plus ``__meta__``, a JSON string with
the tree structure and whatever the caller adds (model description, epoch, ...).
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import jax
import numpy as np

from data.idx import atomic_write


class CheckpointError(RuntimeError):
    """A checkpoint is damaged or belongs to another model."""


def _to_numpy(leaf: Any) -> np.ndarray:
    if isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        return np.asarray(jax.random.key_data(leaf))
    return np.asarray(leaf)


def save_checkpoint(path: str | os.PathLike, tree: Any, meta: dict | None = None) -> None:
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    arrays = {f"leaf_{i:04d}": _to_numpy(leaf) for i, leaf in enumerate(leaves)}
    header = {"treedef": str(treedef), **(meta or {})}
    buf = io.BytesIO()
    np.savez(buf, __meta__=np.array(json.dumps(header)), **arrays)
    atomic_write(Path(path), buf.getvalue())


def read_meta(path: str | os.PathLike) -> dict:
    """The JSON header of a checkpoint (raises CheckpointError when unreadable)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            return json.loads(str(f["__meta__"]))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint") from None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as e:
        raise CheckpointError(f"{path}: damaged or not a checkpoint ({e})") from None


def load_checkpoint(path: str | os.PathLike, like: Any) -> tuple[Any, dict]:
    """Load a tree saved by ``save_checkpoint`` into the structure of ``like``, checking that the
    structure, every shape and every dtype agree. Returns (tree, meta)."""
    meta = read_meta(path)
    leaves, treedef = jax.tree_util.tree_flatten(like)
    if meta.get("treedef") != str(treedef):
        raise CheckpointError(f"{path}: saved from a different model (parameter layout differs)")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = [f[f"leaf_{i:04d}"] for i in range(len(leaves))]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as e:
        raise CheckpointError(f"{path}: damaged checkpoint ({e})") from None
    out = []
    for i, (saved, ref) in enumerate(zip(arrays, leaves, strict=True)):
        is_key = isinstance(ref, jax.Array) and jax.dtypes.issubdtype(
            ref.dtype, jax.dtypes.prng_key
        )
        want = _to_numpy(ref)
        if saved.shape != want.shape or saved.dtype != want.dtype:
            raise CheckpointError(
                f"{path}: entry {i} is {saved.dtype}{list(saved.shape)}, the model expects "
                f"{want.dtype}{list(want.shape)}; it was saved from a different model"
            )
        out.append(jax.random.wrap_key_data(saved) if is_key else jax.numpy.asarray(saved))
    return jax.tree_util.tree_unflatten(treedef, out), meta
