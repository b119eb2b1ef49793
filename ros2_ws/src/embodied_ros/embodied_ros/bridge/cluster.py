"""ClusterPort over the jobs node's ``get_cluster`` service, and its ``cluster_events`` topic as the
WebSocket's ``cluster`` channel (each event's type as the event's name, its data as the node sent it)."""

from __future__ import annotations

import json
from typing import Any

from rclpy.qos import QoSProfile, ReliabilityPolicy

from embodied_ai.bridge.ports.cluster import TaskMetricsView, WorkerView
from embodied_ai.bridge.settings import BridgeTimeouts
from embodied_ai.errors import ErrorCode
from embodied_ros.bridge.jobs import JOBS_NODE
from embodied_ros.bridge.plumbing import Events, Graph, Service, optional_interface
from embodied_ros.kit.goal_client import Endpoint, check

GetCluster = optional_interface("embodied_interfaces.srv", "GetCluster")
ClusterEvent = optional_interface("embodied_interfaces.msg", "ClusterEvent")
CHANNEL = "cluster"
# As the jobs node publishes them: reliable with a deep queue (a task's result matters to a follower).
EVENTS_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)


class RosCluster:
    def __init__(self, graph: Graph, events: Events, timeouts: BridgeTimeouts) -> None:
        self._events, self._timeouts = events, timeouts
        graph.subscribe(ClusterEvent, "cluster_events", self._on_event, EVENTS_QOS)
        self._get = Service(graph, GetCluster, Endpoint("get_cluster", ErrorCode.TRAINING_FAILED, JOBS_NODE,
                                                        server="jobs"))

    def _on_event(self, msg: Any) -> None:
        self._events.emit(CHANNEL, str(msg.type), dict(json.loads(msg.data_json or "{}")))

    async def _view(self, view: str, worker_id: str = "", task_id: int = 0) -> tuple[str, Any]:
        response = check(await self._get.call(self._timeouts.registry_s, view=view, worker_id=worker_id,
                                              task_id=task_id), self._get.endpoint)
        return str(response.backend), json.loads(response.cluster_json)

    async def workers(self) -> tuple[str, list[WorkerView]]:
        backend, workers = await self._view("workers")
        return backend, list(workers)

    async def worker(self, worker_id: str) -> WorkerView:
        return dict((await self._view("worker", worker_id=worker_id))[1])

    async def task_metrics(self, job_id: int) -> TaskMetricsView:
        return dict((await self._view("task_metrics", task_id=job_id))[1])
