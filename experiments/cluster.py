"""Where a run executes: the devices and processes it uses, joining the processes with
jax.distributed, laying the devices out on a data-parallel mesh, the agreement of all processes
to stop at the same step, and the parameter fingerprint with which every process reports what
it ended with."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

import jax
import numpy as np

from nn.checkpoint import to_numpy
from nn.model import ModelParams
from nn.parallel import Placement, data_mesh


class ClusterError(RuntimeError):
    """The processes cannot be joined, or the devices asked for are not there."""


@dataclass(frozen=True)
class Cluster:
    """Where the run executes; not part of the saved configuration (a run may resume on a
    different number of devices)."""

    devices: int | None = None  # local devices to use (None: all)
    coordinator: str | None = None  # HOST:PORT of process 0, for several processes
    num_processes: int | None = None
    process_id: int | None = None
    auto: bool = False  # let jax.distributed.initialize detect the cluster (Slurm, MPI, TPU)

    @property
    def distributed(self) -> bool:
        return self.auto or self.coordinator is not None


def start_cluster(cluster: Cluster) -> Placement:
    """Join the processes (before any other JAX call), then lay the devices out on a mesh.
    Processes other than 0 train silently: only process 0 prints and writes."""
    if cluster.distributed:
        try:
            if cluster.auto:
                jax.distributed.initialize()
            else:
                jax.distributed.initialize(
                    cluster.coordinator, cluster.num_processes, cluster.process_id
                )
        except (RuntimeError, ValueError) as e:
            where = cluster.coordinator or "the detected cluster"
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ClusterError(f"cannot join {where}: {first}") from None
        if jax.process_index() != 0:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (for the whole process)
    available = jax.device_count()
    if cluster.devices is not None and cluster.devices > available:
        raise ClusterError(
            f"--devices {cluster.devices}: this run has {available} device(s); "
            f"ask for at most {available}"
        )
    if cluster.devices not in (None, available) and jax.process_count() > 1:
        raise ClusterError("with several processes every device takes part; leave out --devices")
    return Placement(data_mesh(cluster.devices))


def agreed_stop(local: Callable[[], bool], every: int = 50) -> Callable[[], bool]:
    """``local`` for one process. With several, each process asked alone could stop at a
    different step, and the one that went on would wait forever for the others in its next
    step's collective; so every ``every``-th question is put to all processes at once (a small
    all-gather), they all stop if any one wants to, and the questions in between say no. Every
    process asks the same number of times (at the same step boundaries), so the all-gathers
    pair up."""
    if jax.process_count() == 1:
        return local
    from jax.experimental import multihost_utils

    asked = 0

    def stop() -> bool:
        nonlocal asked
        asked += 1
        if asked % every:
            return False
        wants = multihost_utils.process_allgather(np.array(local(), np.int32))
        return bool(np.any(wants))

    return stop


def fingerprint(params: ModelParams) -> str:
    """sha256 of every parameter's bytes (this process's copy), in tree order."""
    h = hashlib.sha256()
    for leaf in jax.tree_util.tree_leaves(params):
        h.update(to_numpy(leaf).tobytes())
    return h.hexdigest()[:16]
