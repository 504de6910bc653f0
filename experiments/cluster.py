"""Where a run executes: the devices and processes it uses, joining the processes with
jax.distributed, laying the devices out on a data-parallel mesh, and the parameter fingerprint
with which every process reports what it ended with."""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass

import jax

from nn.checkpoint import to_numpy
from nn.model import ModelParams
from nn.parallel import Placement, data_mesh


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
            raise ValueError(f"cannot join {where}: {first}") from None
        if jax.process_index() != 0:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (for the whole process)
    return Placement(data_mesh(cluster.devices))


def fingerprint(params: ModelParams) -> str:
    """sha256 of every parameter's bytes (this process's copy), in tree order."""
    h = hashlib.sha256()
    for leaf in jax.tree_util.tree_leaves(params):
        h.update(to_numpy(leaf).tobytes())
    return h.hexdigest()[:16]
