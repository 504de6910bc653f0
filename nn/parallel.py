"""Data parallelism over several devices and hosts, on JAX's own runtime (jax.sharding,
jax.shard_map, jax.distributed).

A mesh has one axis, ``data``, over D devices (all processes' devices together). Every global
batch of B rows is split into D blocks of B/D rows, one per device; the parameters, the optimizer
state and the training data are replicated. Each device runs the same hand-written forward and
backward as a single device (nn/train.py) on its block, with its loss gradient scaled by the
block's share of the batch's total weight, so that ``lax.psum`` over ``data`` of the per-device
gradients is exactly the gradient of the whole batch's mean loss; every device then applies the
same update to its copy of the parameters. A batch that does not divide
by D is padded with weight-0 rows, which change nothing: the global batch stays the user's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from nn.batches import DeviceArrays, to_device

AXIS = "data"


def data_mesh(num_devices: int | None = None) -> Mesh:
    """A 1-D mesh over the first ``num_devices`` devices (default: all, across all processes)."""
    devices = jax.devices()
    n = len(devices) if num_devices is None else num_devices
    if not 1 <= n <= len(devices):
        raise ValueError(f"--devices {n}: this run has {len(devices)} device(s)")
    if jax.process_count() > 1 and n != len(devices):
        raise ValueError("with several processes every device takes part; leave out --devices")
    return Mesh(np.array(devices[:n]), (AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Place every leaf (identical in every process) on every device of the mesh."""

    def put(leaf: Any) -> Any:
        if isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            return jax.random.wrap_key_data(put(jax.random.key_data(leaf)))
        host = np.asarray(leaf)
        return jax.make_array_from_callback(host.shape, replicated(mesh), lambda i: host[i])

    return jax.tree_util.tree_map(put, tree)


def shard_rows(rows: np.ndarray, mesh: Mesh) -> jax.Array:
    """A global (B,) array split over the mesh. Every process knows the whole batch plan (it is
    a function of seed and epoch) and supplies just the rows of its own devices."""
    return jax.make_array_from_callback(rows.shape, NamedSharding(mesh, P(AXIS)), lambda i: rows[i])


def pad_rows(index: np.ndarray, weight: np.ndarray, devices: int) -> tuple[np.ndarray, np.ndarray]:
    """Pad a batch with weight-0 rows to a multiple of the device count."""
    extra = -len(index) % devices
    if not extra:
        return index, weight
    return (
        np.concatenate([index, np.resize(index, extra)]),
        np.concatenate([weight, np.zeros(extra, weight.dtype)]),
    )


def to_host(x: jax.Array) -> np.ndarray:
    """A (possibly sharded, possibly multi-process) array as one NumPy array on every process."""
    if jax.process_count() > 1 and not x.is_fully_addressable:
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(x)


def sharded(mesh: Mesh, step: Callable[..., tuple]) -> Callable[..., tuple]:
    """``step(state, sums, data, index, weight) -> (state, sums)`` run on every device of the
    mesh at once: the state, the sums and the data replicated, the batch's rows ``index`` and
    ``weight`` split into one block per device. Inside, ``step`` sees its own block and sums over
    the devices with ``lax.psum(..., AXIS)`` (nn/train.py sums the gradients); what it returns
    must then be the same on every device."""
    return jax.shard_map(
        step,
        mesh=mesh,
        in_specs=(P(), P(), P(), P(AXIS), P(AXIS)),
        out_specs=(P(), P()),
    )


class Placement:
    """Where a run's arrays live: on the default device (no mesh, or a mesh of one device), or
    replicated (data, parameters, optimizer state) and row-sharded (batches) over a mesh."""

    def __init__(self, mesh: Mesh | None = None) -> None:
        self.mesh = mesh if mesh is not None and mesh.size > 1 else None

    @property
    def devices(self) -> int:
        return 1 if self.mesh is None else self.mesh.size

    def data(self, x: np.ndarray, y: np.ndarray) -> Any:
        if self.mesh is None:
            return to_device(x, y)
        return DeviceArrays(*replicate((x, y), self.mesh))

    def tree(self, tree: Any) -> Any:
        return tree if self.mesh is None else replicate(tree, self.mesh)

    def rows(self, index: np.ndarray, weight: np.ndarray) -> tuple[Any, Any]:
        if self.mesh is None:
            return index, weight
        index, weight = pad_rows(index, weight, self.mesh.size)
        return shard_rows(index, self.mesh), shard_rows(weight, self.mesh)
