"""Bringing a lifecycle node up by itself, as nav2's lifecycle manager would.

A lifecycle node waits, unconfigured, for someone to call its change_state service. A node
with an ``autostart`` parameter configures and activates itself instead, so that a plain
launch brings the graph up; when configuring fails (its hardware is not there yet) it stays
unconfigured and tries again every ``retry_s``, and the node stays up meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable

from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn

SUCCESS = TransitionCallbackReturn.SUCCESS


def autostart(node: LifecycleNode, retry_s: float, configured: Callable[[], bool]) -> bool:
    """Configure (unless ``configured()``) and activate ``node`` now; True when it is active.
    Otherwise a timer on the node tries again every ``retry_s`` until it is (spin the node)."""
    def attempt() -> bool:
        if not configured() and node.trigger_configure() != SUCCESS:
            return False
        return node.trigger_activate() == SUCCESS

    def retry() -> None:
        if attempt():
            node.destroy_timer(timer)

    if attempt():
        return True
    node.get_logger().warning(f"autostart failed; retrying every {retry_s:g} s")
    timer = node.create_timer(retry_s, retry)
    return False
