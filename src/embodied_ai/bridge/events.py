"""Fan-out of events to WebSocket subscribers, by channel.

Publishers may be on any thread (the ROS executor calls back from its own); delivery happens
on the asyncio loop. Each subscriber has a bounded queue: a slow client loses its oldest
events rather than growing the bridge's memory or slowing the others.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from embodied_ai.bridge.ports.common import GraphEvent

CHANNELS = ("training", "inference", "hardware", "cameras", "jobs", "cluster")


@dataclass(eq=False)
class Subscription:
    channels: set[str] = field(default_factory=set)
    queue: asyncio.Queue[GraphEvent] = field(default_factory=lambda: asyncio.Queue(maxsize=64))
    dropped: int = 0

    def offer(self, event: GraphEvent) -> None:
        if event.channel not in self.channels:
            return
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)


class EventHub:
    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def open(self) -> Subscription:
        subscription = Subscription()
        self._subscriptions.add(subscription)
        return subscription

    def close(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    def publish(self, event: GraphEvent) -> None:
        """Thread-safe; events published before the loop is bound are dropped."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._deliver(event)
        else:
            loop.call_soon_threadsafe(self._deliver, event)

    def _deliver(self, event: GraphEvent) -> None:
        for subscription in list(self._subscriptions):
            subscription.offer(event)
