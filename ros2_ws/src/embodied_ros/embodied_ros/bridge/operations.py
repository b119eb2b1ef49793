"""OperationsPort over the jobs node's get_ops_logs service."""

from __future__ import annotations

import json

from embodied_ai.bridge.ports.operations import OpsLogView
from embodied_ai.bridge.settings import BridgeTimeouts
from embodied_ai.errors import ErrorCode
from embodied_ros.bridge.jobs import JOBS_NODE
from embodied_ros.bridge.plumbing import Graph, Service, optional_interface
from embodied_ros.kit.goal_client import Endpoint, check

GetOpsLogs = optional_interface("embodied_interfaces.srv", "GetOpsLogs")


class RosOperations:
    def __init__(self, graph: Graph, timeouts: BridgeTimeouts) -> None:
        self._timeouts = timeouts
        self._logs = Service(graph, GetOpsLogs, Endpoint("get_ops_logs", ErrorCode.TRAINING_FAILED, JOBS_NODE,
                                                         server="jobs"))

    async def logs(self, service: str | None, level: str | None, since: str | None, until: str | None,
                   limit: int, cursor: str | None) -> tuple[list[OpsLogView], str | None]:
        response = check(await self._logs.call(self._timeouts.registry_s, service=service or "", level=level or "",
                                               since=since or "", until=until or "", limit=limit,
                                               cursor=cursor or ""), self._logs.endpoint)
        return list(json.loads(response.logs_json)), response.next_cursor or None
