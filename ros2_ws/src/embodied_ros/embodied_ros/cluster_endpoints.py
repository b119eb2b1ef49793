"""The jobs node's cluster endpoints: seed 003's control of tasks and its view of the cluster, over
the job system (embodied_ai.jobs.service.JobsService.control) and its cluster
(embodied_ai.distributed.service.ClusterService).

  services  control_job (ControlJob: pause, resume or stop a job), get_cluster (GetCluster: the
            workers, one worker, or a task's metrics)
  topic     cluster_events (ClusterEvent): task assignments, progress, results, heartbeats, control

Reading the cluster asks Ray (and may connect to it first): its own group, so the job database's
quick reads never wait behind it.
"""

from __future__ import annotations

import json
from typing import Any

from embodied_interfaces.msg import ClusterEvent
from embodied_interfaces.srv import ControlJob, GetCluster
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy

from embodied_ai.jobs.system import JobSystem
from embodied_ros.kit.services import answer

# Every event matters to a follower (a task's result), a few a second at most: reliable, a deep queue.
EVENTS_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)


def to_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False, default=str)


class ClusterEndpoints:
    def __init__(self, node: Node, system: JobSystem) -> None:
        self._node, self._system = node, system
        node.create_service(ControlJob, "control_job", answer(self._on_control),
                            callback_group=MutuallyExclusiveCallbackGroup())
        node.create_service(GetCluster, "get_cluster", answer(self._on_cluster),
                            callback_group=MutuallyExclusiveCallbackGroup())
        self._events = node.create_publisher(ClusterEvent, "cluster_events", EVENTS_QOS)
        system.cluster.on_event(self._publish)

    def _on_control(self, request: Any, response: Any) -> Any:
        jobs = self._system.jobs
        job = jobs.control(request.job_id, request.action, request.reason)
        response.job_json = jobs.to_json(jobs.view(job))
        self._system.cluster.record("control", {"action": request.action, "task_id": int(request.job_id)})
        return response

    def _on_cluster(self, request: Any, response: Any) -> Any:
        cluster = self._system.cluster
        response.backend = cluster.backend
        response.cluster_json = to_json(cluster.view(request.view, request.worker_id, request.task_id))
        return response

    def _publish(self, type: str, data: dict[str, Any]) -> None:
        self._events.publish(ClusterEvent(stamp=self._node.get_clock().now().to_msg(), type=type,
                                          data_json=to_json(data)))
