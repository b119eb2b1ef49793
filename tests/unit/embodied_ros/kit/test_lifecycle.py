"""A lifecycle node that brings itself up: at once when it can, else by retrying until it can."""

from __future__ import annotations

from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from embodied_ros.kit.lifecycle import autostart


class Flaky(LifecycleNode):
    """Fails to configure ``failures`` times (hardware not there yet), then works."""

    def __init__(self, context: Context, failures: int) -> None:
        super().__init__("flaky", context=context, start_parameter_services=False)
        self.failures, self.configured, self.active = failures, False, False

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self.failures:
            self.failures -= 1
            return TransitionCallbackReturn.FAILURE
        self.configured = True
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.active = True
        return TransitionCallbackReturn.SUCCESS


def test_a_node_that_can_configure_is_active_at_once(context):
    node = Flaky(context, failures=0)
    assert autostart(node, 0.05, lambda: node.configured) and node.active
    assert not list(node.timers)
    node.destroy_node()


def test_a_node_that_cannot_configure_yet_retries_until_it_is_active(context):
    node = Flaky(context, failures=3)
    assert not autostart(node, 0.05, lambda: node.configured) and not node.active
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    for _ in range(100):
        executor.spin_once(timeout_sec=0.05)
        if node.active:
            break
    assert node.active and node.failures == 0
    assert not list(node.timers)   # the retry timer is gone once it succeeded
    executor.shutdown()
    node.destroy_node()
