"""`embodied worker join ADDRESS`: make this machine a worker of the product's Ray cluster.

The worker must run the head's version of the product (its jobs import the same code): the join
reads the version the head recorded and refuses a different one, naming both. Then it becomes
``ray start --address ADDRESS --block`` with the resources seed 003's requirements are matched
against (its CPU cores and memory as Ray counts them, GPUs, GPU memory as the custom resource
``gpu_memory_mb``), in the foreground: Ctrl-C (or SIGTERM to its PID) takes the worker out.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from embodied_ai import __version__
from embodied_ai.distributed.cluster import (
    GPU_MEMORY_RESOURCE,
    RAY_NAMESPACE,
    WORKER_RESOURCE,
    ClusterUnavailable,
    cluster_version,
    import_ray,
    reachable,
)

LOOPBACK = ("127.0.0.1", "localhost")


def add_commands(commands: argparse._SubParsersAction) -> None:
    worker = commands.add_parser("worker", help="this machine as a worker of the Ray cluster (distributed jobs)")
    sub = worker.add_subparsers(dest="worker_command", required=True)
    join = sub.add_parser("join", help="join the cluster at ADDRESS (host:port of its Ray head) until stopped")
    join.add_argument("address", help="the Ray head's host:port (`embodied cluster` shows it), e.g. 10.0.0.5:6379")
    join.add_argument("--num-cpus", type=int, help="CPU cores to offer (default: all)")
    join.add_argument("--num-gpus", type=int, help="GPUs to offer (default: those Ray detects)")
    join.add_argument("--gpu-memory-mb", type=int, default=0, help="GPU memory to offer, MB (requirements' "
                                                                    "min_gpu_memory is matched against it)")
    join.add_argument("--node-ip-address", help="this machine's address as the head reaches it (default: Ray's "
                                                "choice; 127.0.0.1 for a worker on the head's machine)")
    join.set_defaults(func=_join)


def _join(args: argparse.Namespace) -> int:
    try:
        command = join_command(args.address, args.num_cpus, args.num_gpus, args.gpu_memory_mb, args.node_ip_address)
    except ClusterUnavailable as exc:
        print(f"embodied worker join: {exc}", file=sys.stderr)
        return 2
    print(f"embodied worker join: joining {args.address} as a worker (embodied {__version__}); Ctrl-C leaves",
          flush=True)
    os.execv(command[0], command)   # the same PID: whoever started the join stops the worker by it


def join_command(address: str, num_cpus: int | None, num_gpus: int | None, gpu_memory_mb: int,
                 node_ip_address: str | None) -> list[str]:
    """The ``ray start`` command line that joins ``address``, after checking the cluster can be reached and
    runs this version of the product; ClusterUnavailable (with both versions) otherwise."""
    ray = import_ray(loopback=node_ip_address in LOOPBACK)
    gcs = reachable(ray, address, timeout_s=5.0)
    ray.init(address=gcs, namespace=RAY_NAMESPACE, log_to_driver=False, logging_level="ERROR")
    try:
        theirs = cluster_version(ray)
    finally:
        ray.shutdown()
    if theirs is None:
        raise ClusterUnavailable(f"the Ray cluster at {address} runs no embodied product (no version recorded): "
                                 "start it with `embodied up --set jobs.backend=ray` first")
    if theirs != __version__:
        raise ClusterUnavailable(f"refused: this machine runs embodied {__version__} and the cluster at {address} "
                                 f"runs embodied {theirs}; install {theirs} here (or upgrade the head) and join again")
    resources: dict[str, float] = {WORKER_RESOURCE: 1}
    if gpu_memory_mb:
        resources[GPU_MEMORY_RESOURCE] = gpu_memory_mb
    command = [str(Path(sys.executable).with_name("ray")), "start", f"--address={gcs}", "--block",
               f"--resources={json.dumps(resources)}", "--disable-usage-stats"]
    if num_cpus is not None:
        command.append(f"--num-cpus={num_cpus}")
    if num_gpus is not None:
        command.append(f"--num-gpus={num_gpus}")
    if node_ip_address:
        command.append(f"--node-ip-address={node_ip_address}")
    return command
