"""What every capability of the bridge's ports shares: the endpoints it calls (a client, the
interface type and what to say when it is missing), caches of subscribed messages, and the
events that go out on the WebSocket.

The ports are called from the asyncio loop (uvicorn) while an executor spins the node in its
own thread: requests go through ``embodied_ros.kit.goal_client``'s asyncio form. The interfaces
of capabilities that may not be built in an install are imported optionally; their endpoints
then answer GraphUnavailable ("its interface is not built in this install").
"""

from __future__ import annotations

import asyncio
import importlib
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from rclpy.action import ActionClient
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.client import Client
from rclpy.node import Node
from rclpy.qos import QoSProfile

from embodied_ai.bridge.ports.common import Detection, EventListener, GraphEvent
from embodied_ai.errors import GraphTimeout, GraphUnavailable
from embodied_ros.kit.action_client import ThreadSafeActionClient
from embodied_ros.kit.detections import decode_detections
from embodied_ros.kit.goal_client import Endpoint, Feedback, call_async, require_async, run_goal_async, send_goal_async

# How long after a service client first sees its server its requests wait, so that the server has
# matched the client's response reader too (discovery on loopback usually takes well under this).
RESPONSE_MATCH_S = 0.5
# A read's first request is sent again after this (then twice as long, ...) until one is answered:
# under load the server may still not have matched the new client when it answers, and Fast DDS
# drops that response (rclpy warns "failed to send response (timeout)" on the server's side).
FIRST_ANSWER_S = 2.0


def optional_interface(module: str, name: str) -> Any:
    """An interface type another capability defines, or None while it is not built."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


class Latest:
    """A subscribed message and when it arrived (monotonic)."""

    def __init__(self) -> None:
        self.msg: Any = None
        self.at = 0.0

    def set(self, msg: Any) -> None:
        self.msg, self.at = msg, time.monotonic()

    def age(self) -> float:
        return math.inf if self.msg is None else time.monotonic() - self.at


class Events:
    """The graph's events for the WebSocket: listeners are called on the thread that emits
    (the executor's, or the asyncio loop's)."""

    def __init__(self) -> None:
        self._listeners: list[EventListener] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: EventListener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)
        return unsubscribe

    def emit(self, channel: str, event: str, data: dict[str, object]) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(GraphEvent(channel, event, data))


class Graph:
    """The bridge node's clients and subscriptions, all in one reentrant callback group (every
    callback only stores a message or completes a future)."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.group = ReentrantCallbackGroup()

    def subscribe(self, kind: Any, topic: str, callback: Callable[[Any], None], qos: QoSProfile) -> None:
        """Subscribe unless ``kind``'s interface is not built."""
        if kind is not None:
            self.node.create_subscription(kind, topic, callback, qos, callback_group=self.group)

    def node_up(self, name: str) -> bool:
        """Whether a node of this name is in the graph (from DDS discovery's cache: cheap)."""
        return bool(name) and name in self.node.get_node_names()

    def state(self, serving: bool, server: str) -> str:
        """A component's state for /health: "ok" while it serves; "starting" while its node is up
        but does not serve yet (loading its models); "unavailable" while its node is not there."""
        return "ok" if serving else "starting" if self.node_up(server) else "unavailable"


def _readiness(graph: Graph, client: ActionClient | Client | None, endpoint: Endpoint) -> str:
    if client is None:
        return "not built"
    ready = client.server_is_ready() if isinstance(client, ActionClient) else client.service_is_ready()
    return graph.state(ready, endpoint.server)


async def _require(graph: Graph, client: ActionClient | Client | None, endpoint: Endpoint) -> None:
    """GraphUnavailable unless the server is there (after a brief wait for discovery), saying
    whether its node is starting or missing."""
    try:
        await require_async(client, endpoint)
    except GraphUnavailable as missing:
        if client is not None and graph.node_up(endpoint.server):
            raise endpoint.starting() from missing
        raise


def is_read(service: str) -> bool:
    """Whether a service only reads, by the graph's naming (get_*, list_*, preview_*, *_status):
    a read's request whose answer may have been lost can be sent again."""
    return service.startswith(("get_", "list_", "preview_")) or service.endswith("_status")


class Service:
    """A service the bridge calls; ``kind`` None when its interface is not built."""

    def __init__(self, graph: Graph, kind: Any, endpoint: Endpoint) -> None:
        self.graph, self.kind, self.endpoint = graph, kind, endpoint
        self.read = is_read(endpoint.name)
        self.client: Client | None = None
        self._ready_since: float | None = None   # when this client first saw its server (again)
        self._answered = False                   # whether the server has answered since then
        if kind is not None:
            self.client = graph.node.create_client(kind, endpoint.name, callback_group=graph.group)

    async def require(self) -> None:
        """GraphUnavailable unless the server is there (after a brief wait for discovery)."""
        try:
            await _require(self.graph, self.client, self.endpoint)
        except GraphUnavailable:
            self._ready_since, self._answered = None, False
            raise

    async def call(self, timeout_s: float, **request: Any) -> Any:
        """The response to a request made of ``request``'s fields."""
        await self.require()  # before the request is made: its type may not be built
        await self._settle()
        message = self.kind.Request(**request)
        if self._answered or not self.read:
            response = await call_async(self.client, message, self.endpoint, timeout_s)
        else:
            response = await self._call_until_answered(message, timeout_s)
        self._answered = True
        return response

    async def _settle(self) -> None:
        """Seeing the server's request reader does not mean the server has seen this client's response
        reader yet: a request sent at once may be answered into the void (Fast DDS), and the caller waits
        out its whole timeout. The first calls after discovery wait until both sides have had time."""
        now = time.monotonic()
        if self._ready_since is None:
            self._ready_since = now
        remaining = RESPONSE_MATCH_S - (now - self._ready_since)
        if remaining > 0 and not self._answered:
            await asyncio.sleep(remaining)

    async def _call_until_answered(self, message: Any, timeout_s: float) -> Any:
        """A read's response, sending it again while none comes (see FIRST_ANSWER_S)."""
        deadline, attempt_s = time.monotonic() + timeout_s, FIRST_ANSWER_S
        while True:
            left = deadline - time.monotonic()
            try:
                return await call_async(self.client, message, self.endpoint, min(attempt_s, left))
            except GraphTimeout:
                if deadline - time.monotonic() <= 0.01:
                    raise GraphTimeout(f"{self.endpoint.name} did not answer within {timeout_s:.0f} s") from None
                attempt_s *= 2

    def readiness(self) -> str:
        return _readiness(self.graph, self.client, self.endpoint)


class Action:
    """An action the bridge sends goals to; ``kind`` None when its interface is not built."""

    def __init__(self, graph: Graph, kind: Any, endpoint: Endpoint) -> None:
        self.graph, self.kind, self.endpoint = graph, kind, endpoint
        self.client: ActionClient | None = None
        if kind is not None:
            self.client = ThreadSafeActionClient(graph.node, kind, endpoint.name, callback_group=graph.group)

    async def send(self, feedback: Feedback | None = None, **goal: Any) -> Any:
        """The accepted goal's handle (for callers that stream its feedback or keep it)."""
        await _require(self.graph, self.client, self.endpoint)  # before the goal is made: its type may not be built
        return await send_goal_async(self.client, self.kind.Goal(**goal), self.endpoint, feedback)

    async def run(self, timeout_s: float, **goal: Any) -> Any:
        """The goal's result; the goal is cancelled when the wait ends without one."""
        await _require(self.graph, self.client, self.endpoint)
        return await run_goal_async(self.client, self.kind.Goal(**goal), self.endpoint, timeout_s)

    def readiness(self) -> str:
        return _readiness(self.graph, self.client, self.endpoint)


def detections_of(array: Any) -> list[Detection]:
    """A Detection2DArray as the port's detections."""
    return [Detection(label=d.label, score=d.score, bbox=d.box, object_id=-1 if d.object_id is None else d.object_id)
            for d in decode_detections(array)]


def finite(value: float) -> float | None:
    """NaN and infinities (the graph's "unknown") as None."""
    return float(value) if math.isfinite(value) else None
