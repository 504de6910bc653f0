"""The options that say where a run executes (devices, processes), for every experiment's
command line; each may also come from an environment variable, checked as the option is."""

from __future__ import annotations

import argparse
import os

from experiments.cluster import Cluster
from experiments.options import coordinator_address, non_negative_int, positive_int

CLUSTER_ENV = {  # option -> environment variable read when the option is not given
    "coordinator": "HANDJAX_COORDINATOR",
    "num_processes": "HANDJAX_NUM_PROCESSES",
    "process_id": "HANDJAX_PROCESS_ID",
}


def add_cluster_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("devices and hosts (see README: several devices, several hosts)")
    g.add_argument(
        "--devices",
        type=positive_int,
        metavar="N",
        help="data-parallel over the first N local devices (default: all)",
    )
    g.add_argument(
        "--coordinator",
        type=coordinator_address,
        metavar="HOST:PORT",
        help="address of process 0, to train with several processes "
        f"(or ${CLUSTER_ENV['coordinator']})",
    )
    g.add_argument(
        "--num-processes",
        type=positive_int,
        metavar="N",
        help=f"number of processes (or ${CLUSTER_ENV['num_processes']})",
    )
    g.add_argument(
        "--process-id",
        type=non_negative_int,
        metavar="I",
        help=f"this process, 0 to N-1 (or ${CLUSTER_ENV['process_id']})",
    )
    g.add_argument(
        "--distributed",
        action="store_true",
        help="let JAX detect the cluster (Slurm, Open MPI, Cloud TPU)",
    )


CLUSTER_TYPES = {  # option -> its type, applied to the environment variable too
    "coordinator": coordinator_address,
    "num_processes": positive_int,
    "process_id": non_negative_int,
}


def cluster_from(p: argparse.ArgumentParser, args: dict) -> Cluster:
    """Pop the cluster options from ``args``, falling back to the environment variables, which
    are checked as the options are."""
    values = {}
    for key, env in CLUSTER_ENV.items():
        value = args.pop(key)
        if value is None and os.environ.get(env):
            text = os.environ[env]
            try:
                value = CLUSTER_TYPES[key](text)
            except argparse.ArgumentTypeError as e:
                p.error(f"${env}: {e}")
        values[key] = value
    cluster = Cluster(devices=args.pop("devices"), auto=args.pop("distributed"), **values)
    if cluster.coordinator is not None:
        n, i = cluster.num_processes, cluster.process_id
        if n is None or i is None:
            p.error("--coordinator needs --num-processes and --process-id")
        if not 0 <= i < n:
            p.error(f"--process-id {i} must be between 0 and {n - 1}")
    elif cluster.num_processes is not None or cluster.process_id is not None:
        p.error("--num-processes and --process-id need --coordinator HOST:PORT")
    return cluster
