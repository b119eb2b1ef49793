"""The graph's services as the bridge reaches them (the launcher node): each node's process, and its
start, stop and restart. The launcher acts; the bridge adds each node's health from its components."""

from __future__ import annotations

from typing import Protocol

from embodied_ai.errors import ErrorCode, GraphUnavailable
from embodied_ai.launcher.control import ControlOutcome
from embodied_ai.launcher.supervisor import ServiceState

__all__ = ["ControlOutcome", "NoLauncher", "ServiceState", "ServicesPort"]


class ServicesPort(Protocol):
    async def list_services(self) -> list[ServiceState]:
        """Every node of the graph, with its process's state."""
        ...

    async def control(self, name: str, action: str, force: bool) -> ControlOutcome:
        """Start, stop or restart the process of node (or process) ``name``, waiting until it has; NotFound
        for an unknown name, Conflict when the launcher refuses (the servo controller while the robot moves)."""
        ...


class NoLauncher:
    """The port of a bridge that runs without the launcher's node (started on its own, not by `embodied up`)."""

    @staticmethod
    def _absent() -> GraphUnavailable:
        return GraphUnavailable("/launcher/list_services", ErrorCode.HARDWARE_ERROR,
                                "the launcher's node is not running (start the graph with `embodied up`)")

    async def list_services(self) -> list[ServiceState]:
        raise self._absent()

    async def control(self, name: str, action: str, force: bool) -> ControlOutcome:
        raise self._absent()
