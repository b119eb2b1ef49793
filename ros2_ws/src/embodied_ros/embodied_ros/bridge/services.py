"""ServicesPort over the launcher node's list_services and control_service (embodied_ros.launcher_node)."""

from __future__ import annotations

import json

from embodied_ai.bridge.ports.services import ControlOutcome, ServiceState
from embodied_ai.bridge.settings import BridgeTimeouts
from embodied_ai.errors import ErrorCode
from embodied_ai.launcher.control import service_from_record
from embodied_ros.bridge.plumbing import Graph, Service, optional_interface
from embodied_ros.kit.goal_client import Endpoint, check

ListServices = optional_interface("embodied_interfaces.srv", "ListServices")
ControlService = optional_interface("embodied_interfaces.srv", "ControlService")
LAUNCHER_NODE = "launcher"
NOT_RUNNING = "the launcher's node is not running (start the graph with `embodied up`)"
# A stop waits for the process to exit: SIGINT's grace period (10 s), then SIGTERM and SIGKILL (3 s each).
CONTROL_S = 30.0


class RosServices:
    def __init__(self, graph: Graph, timeouts: BridgeTimeouts) -> None:
        self._timeouts = timeouts
        self._list = Service(graph, ListServices, Endpoint(f"/{LAUNCHER_NODE}/list_services", ErrorCode.HARDWARE_ERROR,
                                                           NOT_RUNNING, server=LAUNCHER_NODE))
        self._control = Service(graph, ControlService, Endpoint(f"/{LAUNCHER_NODE}/control_service",
                                                                ErrorCode.HARDWARE_ERROR, NOT_RUNNING,
                                                                server=LAUNCHER_NODE))
        self._list.read = True   # named under the launcher's namespace, a read all the same: sent again if unanswered

    async def list_services(self) -> list[ServiceState]:
        response = check(await self._list.call(self._timeouts.registry_s), self._list.endpoint)
        return [service_from_record(record) for record in json.loads(response.services_json)]

    async def control(self, name: str, action: str, force: bool) -> ControlOutcome:
        response = check(await self._control.call(max(CONTROL_S, self._timeouts.registry_s), name=name,
                                                  action=action, force=force), self._control.endpoint)
        return ControlOutcome(service_from_record(json.loads(response.service_json)), tuple(response.affects))
