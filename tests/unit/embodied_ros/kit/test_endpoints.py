"""What a lifecycle node creates while configuring is destroyed by its cleanup, and nothing else."""

from __future__ import annotations

import pytest
import rclpy
from embodied_interfaces.action import Speak
from rclpy.action import ActionClient, ActionServer
from rclpy.context import Context
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

from embodied_ros.kit.endpoints import ConfiguredEndpoints


def counts(node: rclpy.node.Node) -> tuple[int, ...]:
    return tuple(len(list(entities)) for entities in (node.publishers, node.subscriptions, node.clients,
                                                      node.services, node.timers, node.waitables))


def test_what_was_created_while_recording_is_destroyed(context: Context) -> None:
    node = rclpy.create_node("configured", context=context)
    kept = node.create_publisher(Bool, "kept", 1)   # made before configure: not the recorder's
    before = counts(node)
    configured = ConfiguredEndpoints(node)
    with configured.recording():
        node.create_publisher(Bool, "state", 1)
        node.create_subscription(Bool, "commands", lambda _msg: None, 1)
        node.create_client(Trigger, "stop")
        node.create_service(Trigger, "reset", lambda _request, response: response)
        node.create_timer(1.0, lambda: None)
        ActionServer(node, Speak, "speak", lambda goal_handle: Speak.Result())
        ActionClient(node, Speak, "other_speak")
    assert all(after > was for after, was in zip(counts(node), before))
    configured.destroy()
    assert counts(node) == before and kept in list(node.publishers)
    configured.destroy()  # a second cleanup (shutdown after cleanup) does nothing
    assert counts(node) == before
    node.destroy_node()


def test_what_was_created_before_a_failure_is_recorded_too(context: Context) -> None:
    node = rclpy.create_node("half_configured", context=context)
    before = counts(node)
    configured = ConfiguredEndpoints(node)
    with pytest.raises(RuntimeError), configured.recording():
        node.create_publisher(Bool, "state", 1)
        raise RuntimeError("the model did not load")
    configured.destroy()
    assert counts(node) == before
    node.destroy_node()
