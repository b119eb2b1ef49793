"""The bridge's ClusterPort and JobsPort.control over the jobs node's real cluster endpoints
(embodied_ros.cluster_endpoints over a real job system and ClusterService, local backend), server and
client in one process: the workers, a worker, a task's metrics, a pause, and the cluster's events on the
WebSocket's ``cluster`` channel."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import rclpy
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor

from embodied_ai.bridge.ports.common import GraphEvent
from embodied_ai.bridge.settings import BridgeTimeouts
from embodied_ai.distributed.assignments import Assignments
from embodied_ai.distributed.service import ClusterService
from embodied_ai.errors import EmbodiedError, ErrorCode
from embodied_ai.jobs import JobContext, JobKind, JobRunner, JobStore
from embodied_ai.jobs.service import JobsService
from embodied_ros.bridge.cluster import RosCluster
from embodied_ros.bridge.jobs import RosJobs
from embodied_ros.bridge.plumbing import Events, Graph
from embodied_ros.cluster_endpoints import ClusterEndpoints


@dataclass
class System:
    """What ClusterEndpoints uses of the jobs node's JobSystem: its jobs and its cluster."""

    jobs: JobsService
    cluster: ClusterService


@dataclass
class Rig:
    cluster: RosCluster
    jobs: RosJobs
    store: JobStore
    events: list[GraphEvent]


def noop(ctx: JobContext) -> None:
    return None


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    store = JobStore(tmp_path / "operations.sqlite")
    assignments = Assignments(tmp_path / "operations.sqlite")
    runner = JobRunner(store, {"training": JobKind(noop, resumable=True)})   # not started: jobs stay queued
    system = System(JobsService(store, runner), ClusterService("local", store, assignments, None))
    context = Context()
    rclpy.init(context=context)
    server = rclpy.create_node("jobs", context=context, start_parameter_services=False)
    client = rclpy.create_node("bridge", context=context, start_parameter_services=False)
    ClusterEndpoints(server, system)   # a JobSystem's two parts it uses
    events, seen = Events(), []
    events.subscribe(seen.append)
    graph, timeouts = Graph(client), BridgeTimeouts()
    rig = Rig(RosCluster(graph, events, timeouts), RosJobs(graph, events, timeouts), store, seen)
    executor = MultiThreadedExecutor(num_threads=4, context=context)
    executor.add_node(server)
    executor.add_node(client)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        yield rig
    finally:
        executor.shutdown()
        rclpy.shutdown(context=context)
        spinner.join(5)
        assignments.close()
        store.close()


def test_workers_a_worker_and_a_tasks_metrics(rig: Rig) -> None:
    backend, workers = asyncio.run(rig.cluster.workers())
    assert backend == "local" and [worker["id"] for worker in workers] == ["local"]
    assert asyncio.run(rig.cluster.worker("local"))["resources"]["cpu_cores"] >= 1
    with pytest.raises(EmbodiedError) as missing:
        asyncio.run(rig.cluster.worker("nowhere"))
    assert missing.value.code == ErrorCode.NOT_FOUND
    job = rig.store.submit("training", {"expert_id": "kitchen"})
    metrics = asyncio.run(rig.cluster.task_metrics(job.id))
    assert (metrics["task_id"], metrics["status"], metrics["history"]) == (job.id, "queued", [])


def test_a_pause_through_control_job_and_its_event_on_the_cluster_channel(rig: Rig) -> None:
    job = rig.store.submit("training", {"expert_id": "kitchen"})
    paused = asyncio.run(rig.jobs.control(job.id, "pause", "maintenance"))
    assert paused["id"] == job.id and paused["status"] == "paused"
    deadline = time.monotonic() + 10
    while not [event for event in rig.events if event.channel == "cluster"]:
        assert time.monotonic() < deadline, rig.events
        time.sleep(0.05)
    [event] = [event for event in rig.events if event.channel == "cluster"]
    assert event.event == "control" and event.data["action"] == "pause" and event.data["task_id"] == job.id
    with pytest.raises(EmbodiedError) as refused:
        asyncio.run(rig.jobs.control(job.id, "pause", ""))   # already paused
    assert refused.value.code == ErrorCode.CONFLICT
