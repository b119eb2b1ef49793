"""The cluster as the jobs node serves it (seed 003's clients, task metrics and events), over either
backend: ``ray`` (Ray's nodes, each sampled through a probe actor on it) or ``local`` (this machine
alone, which runs every job itself).

    service.workers()             # every worker: status, resources and use, last_seen, tasks, performance
    service.worker(id)            # one (NotFound)
    service.task_metrics(job_id)  # a task's latest metrics, loss history and worker assignments
    service.on_event(listener)    # seed 003's messages: task, task_progress, task_result, heartbeat, control

A heartbeat thread samples every alive worker every ``heartbeat_s`` (CPU, RAM, GPU use and the
product's version on it); ``last_seen`` is the time of a worker's latest answer.
"""

from __future__ import annotations

import logging
import platform
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from embodied_ai import __version__
from embodied_ai.database import MAX_PAGE
from embodied_ai.distributed.assignments import Assignments
from embodied_ai.distributed.cluster import RAY_NAMESPACE, ClusterUnavailable, RayCluster, RayNode, import_ray
from embodied_ai.errors import InvalidRequest, NotFound
from embodied_ai.jobs.models import JobStatus, LogLevel
from embodied_ai.jobs.store import JobStore
from embodied_ai.listeners import Listeners

log = logging.getLogger(__name__)

ClusterListener = Callable[[str, dict[str, Any]], None]
LOCAL_WORKER = "local"            # the local backend's one worker
HEARTBEAT_S = 5.0
PROBE_TIMEOUT_S = 3.0
TRAINING = "training"


def system_sample() -> dict[str, Any]:
    """This machine's load and resources, as a heartbeat's ``system_info`` reports them."""
    import psutil

    memory = psutil.virtual_memory()
    return {"cpu_usage": psutil.cpu_percent(interval=None), "ram_usage": memory.percent, "gpu_usage": None,
            "cpu_cores": psutil.cpu_count() or 0, "ram_total_mb": round(memory.total / 2**20),
            "hostname": platform.node(), "version": __version__}


class NodeProbe:
    """An actor pinned to one node (no CPU taken): samples that node."""

    def __init__(self) -> None:
        system_sample()   # psutil's first cpu_percent is meaningless: prime it

    def sample(self) -> dict[str, Any]:
        return system_sample()


def iso(moment: float | None) -> str | None:
    return None if moment is None else datetime.fromtimestamp(moment, timezone.utc).isoformat().replace("+00:00", "Z")


class ClusterService:
    def __init__(self, backend: str, store: JobStore, assignments: Assignments, cluster: RayCluster | None,
                 heartbeat_s: float = HEARTBEAT_S) -> None:
        self.backend, self.store, self.assignments, self.cluster = backend, store, assignments, cluster
        self._heartbeat_s = heartbeat_s
        self._listeners: Listeners[dict[str, Any]] = Listeners(log, lambda data: f"cluster event {data}")
        self._seen: dict[str, tuple[float, dict[str, Any]]] = {}   # worker -> (time, its latest sample)
        self._probes: dict[str, Any] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def on_event(self, listener: ClusterListener) -> Callable[[], None]:
        """``listener(type, data)`` for every event; returns a function that unsubscribes it."""
        return self._listeners.add(lambda data, type: listener(type, data))

    def record(self, type: str, data: dict[str, Any]) -> None:
        """A distributed run's event (DistributedTraining's listener): kept as assignments, then announced."""
        job_id = int(data.get("task_id") or 0)
        if type == "task":
            self.assignments.started(job_id, str(data["client_id"]), int(data["rank"]), int(data["world_size"]),
                                     int(data.get("group") or 1))
        elif type == "worker_lost":
            self.assignments.lost(job_id, str(data["client_id"]))
        elif type == "task_result":
            self.assignments.ended(job_id, str(data.get("status") or "failed"))
        self._emit(type, data)

    def _emit(self, type: str, data: dict[str, Any]) -> None:
        self._listeners.emit({**data, "timestamp": iso(time.time())}, type)

    # -- heartbeats -------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._beat, name="cluster-heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(PROBE_TIMEOUT_S + 2)

    def _beat(self) -> None:
        said = ""
        while not self._stop.is_set():
            try:
                self.sample()
                said = ""
            except ClusterUnavailable as exc:
                if str(exc) != said:   # once per new reason, not every beat
                    log.error("cluster: %s", exc)
                    said = str(exc)
            except Exception:  # noqa: BLE001 - one failed round must not end the heartbeats
                log.exception("cluster heartbeat failed")
            self._stop.wait(self._heartbeat_s)

    def sample(self) -> None:
        """Sample every alive worker once (a heartbeat event each)."""
        if self.cluster is None:
            samples = {LOCAL_WORKER: system_sample()}
        else:
            samples = self._probe_nodes([node for node in self.cluster.nodes() if node.alive])
        now = time.time()
        for worker, sample in samples.items():
            self._seen[worker] = (now, sample)
            self._emit("heartbeat", {"client_id": worker, "system_info": {
                key: sample[key] for key in ("cpu_usage", "ram_usage", "gpu_usage")}})

    def _probe_nodes(self, nodes: list[RayNode]) -> dict[str, dict[str, Any]]:
        ray = import_ray()
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        asked = {}
        for node in nodes:
            if node.id not in self._probes:
                self._probes[node.id] = ray.remote(num_cpus=0)(NodeProbe).options(
                    name=f"probe-{node.id}", namespace=RAY_NAMESPACE, get_if_exists=True,
                    scheduling_strategy=NodeAffinitySchedulingStrategy(node.id, soft=False)).remote()
            asked[node.id] = self._probes[node.id].sample.remote()
        samples = {}
        for node_id, answer in asked.items():
            try:
                samples[node_id] = ray.get(answer, timeout=PROBE_TIMEOUT_S)
            except Exception:  # noqa: BLE001 - a node that does not answer keeps its last_seen
                self._probes.pop(node_id, None)
        return samples

    # -- views ----------------------------------------------------------------------------
    def workers(self) -> list[dict[str, Any]]:
        if self.cluster is None:
            return [self._local_worker()]
        return [self._ray_worker(node) for node in self.cluster.nodes()]

    def worker(self, worker_id: str) -> dict[str, Any]:
        for worker in self.workers():
            if worker["id"] == worker_id:
                return worker
        raise NotFound(f"worker '{worker_id}' is not in the cluster")

    def _ray_worker(self, node: RayNode) -> dict[str, Any]:
        seen, sample = self._seen.get(node.id, (None, {}))
        tasks = [job for job in self.assignments.running_on(node.id) if self._running(job)]
        status = "offline" if not node.alive else "busy" if tasks else "online"
        return {
            "id": node.id, "client_id": node.id, "address": node.address, "status": status, "is_head": node.is_head,
            "joined_as_worker": node.worker, "version": sample.get("version"), "hostname": sample.get("hostname"),
            "resources": {"cpu_cores": node.cpu_cores, "cpu_usage": sample.get("cpu_usage"), "ram_mb": node.ram_mb,
                          "ram_usage": sample.get("ram_usage"), "gpus": node.gpus,
                          "gpu_memory_mb": node.gpu_memory_mb, "gpu_usage": sample.get("gpu_usage"),
                          "available_cpu": node.available_cpu, "available_ram_mb": node.available_ram_mb},
            "last_seen": iso(seen), "tasks": tasks,
            "performance": vars(self.assignments.performance(node.id))}

    def _local_worker(self) -> dict[str, Any]:
        seen, sample = self._seen.get(LOCAL_WORKER, (None, {}))
        if not sample:
            sample = system_sample()
        running = [job.id for job in self.store.running([TRAINING])]
        ended = [job for status in (JobStatus.COMPLETED, JobStatus.FAILED)
                 for job in self.store.list(status=status, type=TRAINING, limit=MAX_PAGE)[0]]
        completed = [job for job in ended if job.status is JobStatus.COMPLETED]
        times = [_seconds(job.started_at, job.completed_at) for job in completed]
        durations = [t for t in times if t is not None]
        return {
            "id": LOCAL_WORKER, "client_id": LOCAL_WORKER, "address": "127.0.0.1", "is_head": True,
            "status": "busy" if running else "online", "joined_as_worker": False, "version": __version__,
            "hostname": sample.get("hostname"),
            "resources": {"cpu_cores": sample["cpu_cores"], "cpu_usage": sample["cpu_usage"],
                          "ram_mb": sample["ram_total_mb"], "ram_usage": sample["ram_usage"], "gpus": 0,
                          "gpu_memory_mb": 0, "gpu_usage": None},
            "last_seen": iso(seen or time.time()), "tasks": running,
            "performance": {"completed_tasks": len(completed), "failed_tasks": len(ended) - len(completed),
                            "average_time_s": round(sum(durations) / len(durations), 2) if durations else None,
                            "success_rate": round(len(completed) / len(ended), 3) if ended else None}}

    def _running(self, job_id: int) -> bool:
        try:
            return self.store.get(job_id).status is JobStatus.RUNNING
        except NotFound:
            return False

    def view(self, view: str, worker_id: str = "", task_id: int = 0) -> Any:
        """What the jobs node's get_cluster answers: ``workers``, one ``worker`` or a task's ``task_metrics``."""
        if view == "workers":
            return self.workers()
        if view == "worker":
            return self.worker(worker_id)
        if view == "task_metrics":
            return self.task_metrics(task_id)
        raise InvalidRequest(f"unknown cluster view '{view}'",
                             [f"view: '{view}' is not one of: workers, worker, task_metrics"])

    def task_metrics(self, job_id: int) -> dict[str, Any]:
        """A task's progress, latest metrics, loss history and workers (NotFound for an unknown job)."""
        job = self.store.get(job_id)
        history, latest = [], {}
        after = 0
        while True:
            lines = self.store.logs(job_id, after_seq=after, limit=MAX_PAGE)
            if not lines:
                break
            after = lines[-1].seq
            for line in lines:
                if line.level is LogLevel.METRIC and line.loss is not None:
                    history.append({"step": line.step, "epoch": line.epoch, "loss": line.loss,
                                    "timestamp": line.timestamp})
                    latest = {"step": line.step, "epoch": line.epoch, "loss": line.loss, **line.values}
        return {
            "task_id": job.id, "status": job.status.value, "progress": round(100.0 * job.progress, 2),
            "metrics": latest, "history": history,
            "workers": [{"client_id": a.node_id, "rank": a.rank, "world_size": a.world_size,
                         "started_at": iso(a.started), "ended_at": iso(a.ended), "outcome": a.outcome}
                        for a in self.assignments.of_job(job_id)]}


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return (datetime.fromisoformat(end.replace("Z", "+00:00")) -
            datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()
