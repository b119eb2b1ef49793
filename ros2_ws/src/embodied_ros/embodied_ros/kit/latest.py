"""The newest message of a fast topic, read when it is needed rather than every time it comes.

/joint_states comes at 200 Hz; the bridge, the experts and the cameras need it a few times a
second at most. A plain subscription wakes the node's executor for every message (in rclpy
that costs tens of microseconds of Python per wake-up, far more with a MultiThreadedExecutor
and many entities), so an idle robot spent most of its CPU waking readers that ignored the
message.

Here the subscription belongs to a hidden helper node (its name starts with ``_``, so
``ros2 node list`` leaves it out) that no executor spins: DDS keeps the newest sample in the
reader's cache (KEEP_LAST, depth 1) and nothing runs in Python until ``take()`` asks for it.
The helper shares its parent's context, so it costs no DDS participant of its own.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Generic, TypeVar

from rclpy.context import Context
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState

Message = TypeVar("Message")

# The newest sample only; best effort matches both reliable and best-effort publishers.
NEWEST = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.BEST_EFFORT)


class _Reader:
    """One hidden reader of a topic, shared by every LatestOnDemand of that topic in a process
    (nodes in a container): DDS delivers each sample once per reader, so three nodes reading
    /joint_states through one reader cost a third of three readers."""

    def __init__(self, node: Node, msg_type: type, resolved: str, qos: QoSProfile) -> None:
        self.node = Node(f"_{node.get_name()}_{resolved.strip('/').replace('/', '_')}_reader",
                         context=node.context, start_parameter_services=False, use_global_arguments=False,
                         enable_rosout=False)
        self.subscription = self.node.create_subscription(msg_type, resolved, _never_called, qos)
        self.lock = threading.Lock()
        self.newest: Any = None
        self.received_ns = 0   # when DDS received the newest sample (system clock, ns)
        self.users = 0

    def take(self) -> tuple[Any, float]:
        with self.lock:
            with self.subscription.handle:
                taken = self.subscription.handle.take_message(self.subscription.msg_type, False)
            if taken is not None:
                self.newest, self.received_ns = taken[0], int(taken[1]["received_timestamp"])
            if self.newest is None:
                return None, float("inf")
            return self.newest, max(0.0, (time.time_ns() - self.received_ns) / 1e9)


_ReaderKey = tuple[Context, str, type, int, int, int]   # the context itself: an id could be reused
_readers: dict[_ReaderKey, _Reader] = {}
_readers_lock = threading.Lock()


class LatestOnDemand(Generic[Message]):
    """``take()`` returns the newest ``msg_type`` message on ``topic`` and how old it is."""

    def __init__(self, node: Node, msg_type: type[Message], topic: str, qos: QoSProfile = NEWEST) -> None:
        resolved = node.resolve_topic_name(topic)   # the parent's namespace and remappings apply
        self._key: _ReaderKey = (node.context, resolved, msg_type, qos.depth, int(qos.history),
                                 int(qos.reliability))
        with _readers_lock:
            reader = _readers.get(self._key)
            if reader is None:
                reader = _readers[self._key] = _Reader(node, msg_type, resolved, qos)
            reader.users += 1
        self._reader = reader

    def take(self) -> tuple[Message | None, float]:
        """The newest message (None if none ever came) and its age in seconds (inf if none).

        The age runs from when DDS received the sample, so a publisher that fell silent shows
        as a growing age whether or not the sample was taken before (by this user or another).
        """
        return self._reader.take()

    def destroy(self) -> None:
        with _readers_lock:
            self._reader.users -= 1
            if self._reader.users == 0:
                del _readers[self._key]
                self._reader.node.destroy_node()


class JointPositions:
    """The newest /joint_states as positions by joint name, taken when asked for."""

    def __init__(self, node: Node, topic: str = "joint_states") -> None:
        self._latest = LatestOnDemand(node, JointState, topic)

    def positions(self) -> dict[str, float] | None:
        msg, _age = self._latest.take()
        return None if msg is None else dict(zip(msg.name, msg.position))

    def destroy(self) -> None:
        self._latest.destroy()


def _never_called(_msg: Any) -> None:
    """The reader node is never spun, so this callback never runs."""
