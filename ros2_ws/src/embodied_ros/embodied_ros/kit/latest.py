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

from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState

Message = TypeVar("Message")

# The newest sample only; best effort matches both reliable and best-effort publishers.
NEWEST = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.BEST_EFFORT)


class LatestOnDemand(Generic[Message]):
    """``take()`` returns the newest ``msg_type`` message on ``topic`` and how old it is."""

    def __init__(self, node: Node, msg_type: type[Message], topic: str, qos: QoSProfile = NEWEST) -> None:
        resolved = node.resolve_topic_name(topic)   # the parent's namespace and remappings apply
        self._reader = Node(f"_{node.get_name()}_{topic.strip('/').replace('/', '_')}_reader",
                            context=node.context, start_parameter_services=False, use_global_arguments=False,
                            enable_rosout=False)
        self._subscription = self._reader.create_subscription(msg_type, resolved, _never_called, qos)
        self._lock = threading.Lock()
        self._newest: Message | None = None
        self._received_ns = 0   # when DDS received the newest sample (system clock, ns)

    def take(self) -> tuple[Message | None, float]:
        """The newest message (None if none ever came) and its age in seconds (inf if none).

        The age runs from when DDS received the sample, so a publisher that fell silent shows
        as a growing age whether or not the sample was taken before.
        """
        with self._lock:
            with self._subscription.handle:
                taken = self._subscription.handle.take_message(self._subscription.msg_type, False)
            if taken is not None:
                self._newest, self._received_ns = taken[0], int(taken[1]["received_timestamp"])
            if self._newest is None:
                return None, float("inf")
            return self._newest, max(0.0, (time.time_ns() - self._received_ns) / 1e9)

    def destroy(self) -> None:
        self._reader.destroy_node()


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
