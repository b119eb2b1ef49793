"""The REST bridge's ports (``embodied_ai.bridge.ports``) over rclpy, one module per capability
over one shared plumbing module: action and service clients with timeouts, and caches of
subscribed topics that HTTP reads cost nothing on the graph.

``ros_ports(node, cameras, timeouts)`` makes them all on the bridge node, which an executor
must spin in another thread (the ports are called from uvicorn's asyncio loop).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from rclpy.node import Node

from embodied_ai.bridge.ports import Ports
from embodied_ai.bridge.ports.common import EventListener
from embodied_ai.bridge.settings import BridgeTimeouts
from embodied_ros.bridge.cluster import RosCluster
from embodied_ros.bridge.datasets import RosDatasets
from embodied_ros.bridge.experts import RosExperts
from embodied_ros.bridge.hardware import RosHardware
from embodied_ros.bridge.inference import RosInference
from embodied_ros.bridge.jobs import RosJobs
from embodied_ros.bridge.media import RosMedia
from embodied_ros.bridge.models import RosModels
from embodied_ros.bridge.operations import RosOperations
from embodied_ros.bridge.plumbing import Events, Graph
from embodied_ros.bridge.services import RosServices
from embodied_ros.bridge.webhooks import RosWebhooks


class Capability(Protocol):
    def components(self) -> dict[str, str]: ...


class RosStatus:
    """The graph's status: the components each capability uses, and the events they emit."""

    def __init__(self, events: Events, capabilities: Sequence[Capability]) -> None:
        self._events, self._capabilities = events, list(capabilities)

    def components(self) -> dict[str, str]:
        components = {"ros_graph": "ok"}
        for capability in self._capabilities:
            components.update(capability.components())
        return components

    def subscribe(self, listener: EventListener) -> Callable[[], None]:
        return self._events.subscribe(listener)


def ros_ports(node: Node, cameras: list[str], timeouts: BridgeTimeouts) -> Ports:
    graph, events = Graph(node), Events()
    hardware = RosHardware(graph, events, cameras, timeouts)
    media = RosMedia(graph, timeouts)
    inference = RosInference(graph, events, timeouts)
    experts = RosExperts(graph, events, timeouts)
    jobs = RosJobs(graph, events, timeouts)
    models = RosModels(graph, timeouts)
    return Ports(hardware=hardware, media=media, inference=inference, experts=experts, jobs=jobs,
                 webhooks=RosWebhooks(graph, timeouts), operations=RosOperations(graph, timeouts),
                 datasets=RosDatasets(graph, timeouts), models=models,
                 status=RosStatus(events, (hardware, media, inference, jobs)),
                 services=RosServices(graph, timeouts), cluster=RosCluster(graph, events, timeouts))
