"""Checkpoints: a pytree of arrays (parameters, optimizer state, PRNG key) saved as one .npz and
loaded back only into a tree of the same structure, shapes and dtypes.

Each array is stored under its tree path, e.g. ``.params[0]['w']`` or ``.opt_state[0].mu[2]['b']``,
so a file is self-describing and a subtree (just the parameters) can be loaded on its own.
``__meta__`` holds a JSON header: whatever the caller adds (model, epoch, configuration, ...).
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

META = "__meta__"
READ_ERRORS = (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError)


class CheckpointError(RuntimeError):
    """A checkpoint is missing, damaged, or belongs to another model."""


def is_key(leaf: Any) -> bool:
    return isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def to_numpy(leaf: Any) -> np.ndarray:
    """The host value of a leaf; for an array replicated over several processes, this
    process's copy."""
    if is_key(leaf):
        leaf = jax.random.key_data(leaf)
    if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
        leaf = leaf.addressable_data(0)
    return np.asarray(leaf)


def checkpoint_bytes(tree: Any, meta: dict | None = None) -> bytes:
    """The .npz file of ``tree`` with the JSON header ``meta``."""
    entries = {jax.tree_util.keystr(kp): to_numpy(leaf)
               for kp, leaf in jax.tree_util.tree_leaves_with_path(tree)}  # fmt: skip
    buf = io.BytesIO()
    np.savez(buf, **{META: np.array(json.dumps(meta or {}))}, **entries)
    return buf.getvalue()


def save_checkpoint(path: str | os.PathLike, tree: Any, meta: dict | None = None) -> None:
    """Write ``checkpoint_bytes(tree, meta)`` to ``path``. (A run writes its checkpoint whole or
    not at all: experiments/rundir.py's ``write_checkpoint``.)"""
    Path(path).write_bytes(checkpoint_bytes(tree, meta))


def load_weights(path: str | os.PathLike, model: Any, in_shape: tuple[int, ...]) -> tuple:
    """The parameters and the model state (BatchNorm's running statistics) of a training
    checkpoint of ``model``, for evaluation and prediction: (params, model_state)."""
    params, model_state, _ = model.init(jax.random.key(0), tuple(in_shape))
    params, _ = load_checkpoint(path, params, prefix=".params")
    model_state, _ = load_checkpoint(path, model_state, prefix=".model_state")
    return params, model_state


def read_meta(path: str | os.PathLike) -> dict:
    """The JSON header of a checkpoint; CheckpointError when the file is missing or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as f:
            return json.loads(str(f[META]))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint") from None
    except READ_ERRORS as e:
        raise CheckpointError(f"{path}: damaged or not a checkpoint ({type(e).__name__})") from None


def load_checkpoint(path: str | os.PathLike, like: Any, prefix: str = "") -> tuple[Any, dict]:
    """Load into the structure of ``like`` the entries stored under ``prefix`` + each path of
    ``like`` (prefix ".params" loads the parameters of a saved TrainState). Every entry must
    exist with the same shape and dtype. Returns (tree, meta)."""
    meta = read_meta(path)
    paths_leaves = jax.tree_util.tree_leaves_with_path(like)
    out = []
    try:
        with np.load(path, allow_pickle=False) as f:
            stored = set(f.files)
            for kp, ref in paths_leaves:
                name = prefix + jax.tree_util.keystr(kp)
                if name not in stored:
                    raise CheckpointError(
                        f"{path}: has no entry {name}; it was saved from a different model"
                    )
                saved, want = f[name], to_numpy(ref)
                if saved.shape != want.shape or saved.dtype != want.dtype:
                    raise CheckpointError(
                        f"{path}: {name} is {saved.dtype}{list(saved.shape)} but the model "
                        f"expects {want.dtype}{list(want.shape)}; saved from a different model"
                    )
                out.append(
                    jax.random.wrap_key_data(saved) if is_key(ref) else jax.numpy.asarray(saved)
                )
    except READ_ERRORS as e:
        raise CheckpointError(f"{path}: damaged checkpoint ({type(e).__name__}: {e})") from None
    treedef = jax.tree_util.tree_structure(like)
    return jax.tree_util.tree_unflatten(treedef, out), meta
