"""`embodied worker join ADDRESS`: make this machine a worker of the product's Ray cluster; `embodied cluster
...`: its workers and seed 003's training tasks through the REST bridge (the SDK).

The worker must run the head's version of the product (its jobs import the same code): the join
reads the version the head recorded and refuses a different one, naming both. Then it starts this
machine's Ray node as ``ray start --address ADDRESS --block`` would, with the resources seed 003's
requirements are matched against (its CPU cores and memory as Ray counts them, GPUs, GPU memory as
the custom resource ``gpu_memory_mb``), in the foreground: Ctrl-C (or SIGTERM to its PID) takes the
worker out.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any

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
from embodied_ai.sdk.commands import Command, add_connection_options, run_with_client

if TYPE_CHECKING:
    from embodied_ai.sdk import Client

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

    cluster = commands.add_parser("cluster", help="the cluster's workers and its training tasks (seed 003), through "
                                                  "the REST bridge")
    add_connection_options(cluster)
    cluster_sub = cluster.add_subparsers(dest="cluster_command", required=True)
    cluster_sub.add_parser("workers", help="every worker: status, CPU and RAM use, last seen, tasks")
    cluster_sub.add_parser("worker", help="one worker in full").add_argument("id", help="the worker's id")
    tasks = cluster_sub.add_parser("tasks", help="training tasks, newest first: status, progress")
    tasks.add_argument("--status", choices=("pending", "running", "paused", "completed", "failed", "stopped"))
    tasks.add_argument("--limit", type=int, default=20)
    create = cluster_sub.add_parser("create", help="a training task of an expert (--distributed: on the cluster)")
    create.add_argument("name", help="the expert to train (its name or id)")
    for option, kind, text in (("--dataset-id", int, "a registered dataset (default: the expert's latest)"),
                               ("--epochs", float, "epochs"), ("--max-steps", int, "at most this many steps"),
                               ("--batch-size", int, "the global batch"), ("--learning-rate", float, "learning rate"),
                               ("--n-clients", int, "distributed: how many workers train it"),
                               ("--min-gpu-memory", int, "per worker: MB of GPU memory"),
                               ("--min-cpu-cores", float, "per worker: CPU cores"),
                               ("--min-ram", int, "per worker: MB of RAM")):
        create.add_argument(option, type=kind, default=0, help=f"{text} (0: the default)")
    create.add_argument("--distributed", action="store_true", help="data-parallel on the Ray cluster")
    for action in ("pause", "resume", "stop"):
        control = cluster_sub.add_parser(action, help=f"{action} a task")
        control.add_argument("id", help="the task's id")
        control.add_argument("--reason", default="", help="written to the task's log")
    cluster_sub.add_parser("metrics", help="a task's latest metrics, loss history and workers").add_argument(
        "id", help="the task's id")
    cluster.set_defaults(func=lambda args: run_with_client(args, CLUSTER_COMMANDS[args.cluster_command],
                                                           f"cluster {args.cluster_command}"))


def _join(args: argparse.Namespace) -> int:
    try:
        params = join_params(args.address, args.num_cpus, args.num_gpus, args.gpu_memory_mb, args.node_ip_address)
    except ClusterUnavailable as exc:
        print(f"embodied worker join: {exc}", file=sys.stderr)
        return 2
    return serve_as_worker(params, args.address)


def join_params(address: str, num_cpus: int | None, num_gpus: int | None, gpu_memory_mb: int,
                node_ip_address: str | None) -> Any:
    """Ray's parameters for a worker node of ``address``, after checking the cluster can be reached and runs
    this version of the product; ClusterUnavailable (naming both versions) otherwise."""
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
    from ray._private.parameter import RayParams
    from ray._private.services import get_node_ip_address

    resources: dict[str, float] = {WORKER_RESOURCE: 1}
    if gpu_memory_mb:
        resources[GPU_MEMORY_RESOURCE] = gpu_memory_mb
    return RayParams(gcs_address=gcs, node_ip_address=node_ip_address or get_node_ip_address(gcs),
                     num_cpus=num_cpus, num_gpus=num_gpus, resources=resources)


def serve_as_worker(params: Any, address: str) -> int:
    """Start this machine's Ray node (raylet and its workers) as ``ray start --block`` does, and keep it until
    SIGINT or SIGTERM; then stop its processes. (Ray's CLI refuses a second node on one host in the
    loopback mode tests use; the node it starts is the same.)"""
    from ray._private.node import Node

    node = Node(params, head=False, shutdown_at_exit=True, spawn_reaper=True)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):   # after the node's own handlers: a clean leave, status 0
        signal.signal(signum, lambda *_: stop.set())
    print(f"embodied worker join: node {node.node_id} ({params.node_ip_address}) joined {address} as a worker "
          f"(embodied {__version__}); Ctrl-C leaves", flush=True)
    stop.wait()
    node.kill_all_processes(check_alive=False, allow_graceful=True)
    print("embodied worker join: left the cluster", flush=True)
    return 0



def _show(value: Any) -> int:
    print(json.dumps(value.model_dump() if hasattr(value, "model_dump") else value, indent=2))
    return 0


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}%"


def _workers(client: Client, _args: argparse.Namespace) -> int:
    listed = client.cluster.clients()
    print(f"backend {listed.backend}: {listed.total} worker(s)")
    for worker in listed.clients:
        use = worker.resources
        tasks = ",".join(str(task) for task in worker.tasks) or "-"
        print(f"{worker.id}  {worker.status:7}  cpu {_percent(use.get('cpu_usage'))} of {use.get('cpu_cores')} cores  "
              f"ram {_percent(use.get('ram_usage'))} of {use.get('ram_mb')} MB  last seen {worker.last_seen or '-'}  "
              f"tasks {tasks}")
    return 0


def _tasks(client: Client, args: argparse.Namespace) -> int:
    for task in client.cluster.tasks(status=args.status, limit=args.limit).tasks:
        print(f"{task.id}  {task.status:9}  {task.progress:5.1f}%  updated {task.updated_at}")
    return 0


def _create(client: Client, args: argparse.Namespace) -> int:
    requirements = {"min_gpu_memory": args.min_gpu_memory, "min_cpu_cores": args.min_cpu_cores,
                    "min_ram": args.min_ram}
    created = client.cluster.create_task(
        args.name, dataset_id=args.dataset_id, epochs=args.epochs, max_steps=args.max_steps,
        batch_size=args.batch_size, learning_rate=args.learning_rate, n_clients=args.n_clients,
        distributed=args.distributed, requirements=requirements)
    print(f"task {created.id}: {created.status}")
    return 0


def _control(status: str) -> Command:
    def command(client: Client, args: argparse.Namespace) -> int:
        changed = client.cluster.set_task_status(args.id, status, args.reason)
        print(f"task {changed.id}: {changed.requested} asked, {changed.status} now")
        return 0
    return command


CLUSTER_COMMANDS: dict[str, Command] = {
    "workers": _workers, "tasks": _tasks, "create": _create,
    "worker": lambda client, args: _show(client.cluster.client(args.id)),
    "pause": _control("paused"), "resume": _control("running"), "stop": _control("stopped"),
    "metrics": lambda client, args: _show(client.cluster.task_metrics(args.id)),
}
