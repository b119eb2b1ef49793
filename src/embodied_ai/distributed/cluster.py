"""The Ray cluster that distributed jobs run on, as the job system holds it.

    cluster = RayCluster(ClusterSettings(address=""))   # "" starts a one-node cluster on loopback
    cluster.connect()         # joins (or starts) it, and tells it this product's version
    cluster.nodes()           # Ray's nodes: alive or dead, resources, what each one has free
    cluster.close()           # leaves it (and stops the one it started)

Ray is an optional extra (requirements/distributed.txt): without it, ``import_ray`` raises a clear
error and nothing else of the product needs it. The product never starts Ray processes of its own
beyond the one-node cluster of an empty address, which ``ray.init`` owns and ``ray.shutdown`` stops.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from embodied_ai import __version__
from embodied_ai.errors import EmbodiedError, ErrorCode

log = logging.getLogger(__name__)

RAY_NAMESPACE = "embodied"               # the actors and the key-value entries of this product
VERSION_KEY = b"product_version"         # the head's product version, which a joining worker must match
WORKER_RESOURCE = "embodied_worker"      # a custom resource every `embodied worker join` node carries
GPU_MEMORY_RESOURCE = "gpu_memory_mb"    # a node's GPU memory (Ray counts GPUs, not their memory)
LOCAL_OBJECT_STORE_BYTES = 256 * 2**20   # the one-node cluster's shared memory: training passes no big objects
LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"   # "0": Ray's single-host mode (loopback only)
RAY_MISSING = ("the ray backend needs Ray, an optional extra: install it with "
               "`.venv/bin/pip install -c requirements/constraints.txt -r requirements/distributed.txt` "
               "(scripts/setup.sh --test installs it)")


class ClusterUnavailable(EmbodiedError):
    """The cluster cannot be reached (or Ray is not installed): distributed work waits or is refused."""

    code = ErrorCode.SERVICE_UNAVAILABLE


def import_ray(loopback: bool | None = None) -> ModuleType:
    """``ray``, or ClusterUnavailable saying how to install it. ``loopback`` (decided by the first
    import in a process): Ray's single-host mode, where every Ray process binds and connects on
    127.0.0.1 only; else Ray uses the machine's address, as a multi-machine cluster must."""
    if loopback is not None and "ray" not in sys.modules:
        os.environ.setdefault(LOOPBACK_ENV, "0" if loopback else "1")
    try:
        import ray
    except ImportError:
        raise ClusterUnavailable(RAY_MISSING) from None
    return ray


@dataclass(frozen=True)
class ClusterSettings:
    address: str = ""                    # "" (start one on loopback), "auto", "host:port" or "ray://host:port"
    num_cpus: int | None = None          # the started cluster's CPU slots (None: this machine's cores)
    connect_timeout_s: float = 5.0      # for the address's TCP port to answer


@dataclass(frozen=True)
class RayNode:
    """One Ray node as seed 003 names a client's resources."""

    id: str                              # Ray's node id (hex)
    address: str                         # its IP address
    alive: bool
    is_head: bool
    cpu_cores: float                     # CPU slots Ray schedules on it
    ram_mb: float                        # memory Ray may use on it
    gpus: float
    gpu_memory_mb: float
    available_cpu: float                 # what is not taken by running tasks now
    available_ram_mb: float
    available_gpus: float
    worker: bool                         # joined with `embodied worker join` (else the head or a plain Ray node)


class RayCluster:
    """The driver's connection: one per process (Ray allows one), safe to share between threads."""

    def __init__(self, settings: ClusterSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._connected = False
        self._started_here = False

    @property
    def address(self) -> str:
        """The address a worker joins (the GCS's host:port)."""
        self.connect()
        ray = import_ray()
        return str(ray.get_runtime_context().gcs_address)

    def connect(self) -> None:
        """Join the cluster at the settings' address, or start a one-node cluster on loopback for an
        empty one; idempotent. ClusterUnavailable when it cannot be reached, with the address and why."""
        with self._lock:
            if self._connected:
                return
            address = self.settings.address.strip()
            ray = import_ray(loopback=not address)
            if address and not ray.is_initialized():
                reachable(ray, address, self.settings.connect_timeout_s)
            try:
                if ray.is_initialized():   # a caller (a test's cluster, a script) connected this process already
                    pass
                elif address:
                    ray.init(address=address, namespace=RAY_NAMESPACE, log_to_driver=False,
                             logging_level=logging.WARNING)
                else:
                    ray.init(address="local", namespace=RAY_NAMESPACE, num_cpus=self.settings.num_cpus,
                             object_store_memory=LOCAL_OBJECT_STORE_BYTES, include_dashboard=False,
                             _node_ip_address="127.0.0.1", log_to_driver=False, logging_level=logging.WARNING)
                    self._started_here = True
            except Exception as exc:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, TimeoutError...
                where = f"at '{address}'" if address else "on this machine"
                raise ClusterUnavailable(f"the Ray cluster {where} cannot be reached: {type(exc).__name__}: "
                                         f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
            self._connected = True
            publish_version(ray)
            log.info("ray cluster %s: %s", "started" if self._started_here else "joined",
                     ray.get_runtime_context().gcs_address)

    def close(self) -> None:
        """Leave the cluster; the one-node cluster this object started stops with it."""
        with self._lock:
            if not self._connected:
                return
            self._connected = False
            if self._started_here:
                import_ray().shutdown()
                self._started_here = False

    def responsive(self, node_id: str, timeout_s: float = 3.0) -> bool:
        """Whether ``node_id`` runs a task now (no CPU taken): a node just lost may still be alive in Ray's
        view for the seconds its health checks take to fail."""
        self.connect()
        ray = import_ray()
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        pinned = NodeAffinitySchedulingStrategy(node_id, soft=False)
        try:
            return bool(ray.get(ray.remote(num_cpus=0)(_answer).options(scheduling_strategy=pinned).remote(),
                                timeout=timeout_s))
        except Exception:  # noqa: BLE001 - timeout, a dead node, an unschedulable task: not responsive
            return False

    def nodes(self) -> list[RayNode]:
        """Every node Ray knows, alive or dead (a lost worker stays listed as dead)."""
        self.connect()   # first: the first import of Ray in a process decides whether it binds to loopback
        ray = import_ray()
        available = _available_by_node(ray)
        return [_node(entry, available.get(entry["NodeID"], {})) for entry in ray.nodes()]


def reachable(ray: ModuleType, address: str, timeout_s: float) -> str:
    """``address``'s GCS as host:port once a TCP connection to it opens; ClusterUnavailable if none
    does within ``timeout_s``. (``ray.init`` itself retries an unreachable address for minutes.)"""
    from ray._private.services import canonicalize_bootstrap_address

    plain = address.removeprefix("ray://")
    try:
        resolved = canonicalize_bootstrap_address(plain) if plain == "auto" else plain
    except ConnectionError as exc:
        raise ClusterUnavailable(f"the Ray address 'auto' names no running cluster on this machine: {exc}") from None
    host, _, port = str(resolved).rpartition(":")
    if not host or not port.isdigit():
        raise ClusterUnavailable(f"the Ray address '{address}' is not host:port, ray://host:port or auto")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ClusterUnavailable(f"the Ray cluster at '{address}' cannot be reached: {exc}") from None
    return f"{host}:{port}"


def _answer() -> bool:
    return True


def publish_version(ray: ModuleType) -> None:
    """Record this product's version in the cluster (first writer wins: the head's driver)."""
    from ray.experimental import internal_kv

    internal_kv._internal_kv_put(VERSION_KEY, __version__.encode(), overwrite=False, namespace=RAY_NAMESPACE)


def cluster_version(ray: ModuleType) -> str | None:
    """The product version the cluster's head recorded, None if none did."""
    from ray.experimental import internal_kv

    value = internal_kv._internal_kv_get(VERSION_KEY, namespace=RAY_NAMESPACE)
    return value.decode() if value else None


def _available_by_node(ray: ModuleType) -> dict[str, dict[str, float]]:
    """Each alive node's free resources (Ray's per-node view, from the GCS's resource reports)."""
    try:
        from ray._private.state import state

        return {node_id: dict(free) for node_id, free in state.available_resources_per_node().items()}
    except Exception:  # noqa: BLE001 - a private API: without it, free resources read as the totals
        log.debug("per-node available resources are not readable", exc_info=True)
        return {}


def _node(entry: dict[str, Any], free: dict[str, float]) -> RayNode:
    total = entry.get("Resources") or {}
    mb = 1024 * 1024
    return RayNode(
        id=str(entry["NodeID"]), address=str(entry.get("NodeManagerAddress", "")), alive=bool(entry.get("Alive")),
        is_head=any(key.startswith("node:__internal_head__") for key in total),
        cpu_cores=float(total.get("CPU", 0)), ram_mb=round(float(total.get("memory", 0)) / mb, 1),
        gpus=float(total.get("GPU", 0)), gpu_memory_mb=float(total.get(GPU_MEMORY_RESOURCE, 0)),
        available_cpu=float(free.get("CPU", total.get("CPU", 0))),
        available_ram_mb=round(float(free.get("memory", total.get("memory", 0))) / mb, 1),
        available_gpus=float(free.get("GPU", total.get("GPU", 0))), worker=WORKER_RESOURCE in total)
