"""What a lifecycle node creates when it configures, destroyed together when it cleans up.

ros2/demos' lifecycle_py creates its endpoints in on_configure and destroys them in
on_cleanup. A node with many endpoints, some made by helpers that keep no handle (a cache's
subscription, a client inside a port), records whatever it creates while configuring instead
of keeping a handle to each:

    with self._configured.recording():
        ...create publishers, services, action servers, clients...
    ...
    self._configured.destroy()   # in on_cleanup / on_shutdown
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rclpy.action import ActionClient, ActionServer
from rclpy.client import Client
from rclpy.node import Node
from rclpy.publisher import Publisher
from rclpy.service import Service
from rclpy.subscription import Subscription
from rclpy.timer import Timer


def _entities(node: Node) -> list[Any]:
    return [*node.publishers, *node.subscriptions, *node.clients, *node.services, *node.timers, *node.waitables]


class ConfiguredEndpoints:
    def __init__(self, node: Node) -> None:
        self._node = node
        self._created: list[Any] = []
        self._cleanups: list[Callable[[], None]] = []

    def on_destroy(self, cleanup: Callable[[], None]) -> None:
        """Also run ``cleanup`` at destroy (what the node cannot see: a helper's own reader node)."""
        self._cleanups.append(cleanup)

    @contextmanager
    def recording(self) -> Iterator[None]:
        """Record every endpoint ``node`` creates inside the ``with`` block (even if it raises)."""
        before = {id(entity) for entity in _entities(self._node)}
        try:
            yield
        finally:
            self._created += [entity for entity in _entities(self._node) if id(entity) not in before]

    def destroy(self) -> None:
        """Destroy what was recorded, newest first; safe to call twice."""
        cleanups, self._cleanups = self._cleanups, []
        for cleanup in reversed(cleanups):
            cleanup()
        node, created, self._created = self._node, self._created, []
        destroyers: list[tuple[type, Any]] = [
            (Publisher, node.destroy_publisher), (Subscription, node.destroy_subscription),
            (Client, node.destroy_client), (Service, node.destroy_service), (Timer, node.destroy_timer)]
        for entity in reversed(created):
            if isinstance(entity, (ActionServer, ActionClient)):
                entity.destroy()  # removes itself from the node's waitables
                continue
            # Other waitables are the QoS event handlers of a publisher or subscription: they go with it.
            for kind, destroy in destroyers:
                if isinstance(entity, kind):
                    destroy(entity)
