"""The servo controller node in one process, without the launcher: its parameters as `ros2 param
describe` shows them, and what each lifecycle transition creates, starts, stops and removes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import rclpy
from rcl_interfaces.msg import ParameterType
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState

from embodied_ros.kit.qos import STATE
from embodied_ros.sensors import SensorsNode
from embodied_ros.servo_controller import ServoControllerNode
from tests.conftest import REPO, URDF

SIM = REPO / "launch" / "hardware_sim.yaml"
ENDPOINTS = {"/joint_states", "/hardware_state", "/robot_description", "/sim/objects", "/emergency_stop",
             "/reset_emergency_stop", "/sim/inject_fault", "/move_joints/_action/send_goal", "/grasp/_action/send_goal"}


@pytest.fixture
def node(context: Context) -> Iterator[ServoControllerNode]:
    overrides = {"robot_description_file": "/no/such.urdf", "hardware_config_file": str(SIM), "rate_hz": 100.0}
    node = ServoControllerNode(context=context,
                               parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()])
    executor = MultiThreadedExecutor(context=context)
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    yield node
    node.close()
    executor.shutdown()
    node.destroy_node()


def endpoints(node: ServoControllerNode) -> set[str]:
    names = {p.topic_name for p in node.publishers} | {"/" + s.srv_name.lstrip("/") for s in node.services}
    names |= {f"/{name}/_action/send_goal" for name in ("move_joints", "grasp")
              if node.count_services(f"/{name}/_action/send_goal")}
    return names & ENDPOINTS


def joint_states(context: Context, seconds: float) -> int:
    listener = rclpy.create_node("listener", context=context)
    received: list[JointState] = []
    listener.create_subscription(JointState, "/joint_states", received.append, STATE)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(listener)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
    executor.shutdown()
    listener.destroy_node()
    return len(received)


def test_each_parameter_says_what_it_is_and_its_range(node):
    rate = node.describe_parameter("rate_hz")
    assert rate.type == ParameterType.PARAMETER_DOUBLE and "Hz" in rate.description
    assert rate.floating_point_range[0].from_value == 0.0
    assert node.describe_parameter("autostart").type == ParameterType.PARAMETER_BOOL
    assert node.config.rate_hz == 100.0 and node.config.autostart


def test_configure_fails_with_a_reason_then_reads_the_parameters_again(node):
    assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
    assert not endpoints(node)
    node.set_parameters([Parameter("robot_description_file", value=str(URDF))])
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert endpoints(node) == ENDPOINTS


def test_joint_states_flow_only_while_active_and_cleanup_removes_every_endpoint(node, context):
    node.set_parameters([Parameter("robot_description_file", value=str(URDF))])
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert joint_states(context, 0.3) == 0
    assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    assert joint_states(context, 0.5) >= 20
    assert node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
    time.sleep(0.1)
    assert joint_states(context, 0.3) == 0
    assert node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
    deadline = time.monotonic() + 5.0   # an action server's services go once the executor lets go of them
    while endpoints(node) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not endpoints(node) and not node.configured()


def test_the_sensors_node_declares_its_parameters_from_its_model(context):
    sensors = SensorsNode(context=context, parameter_overrides=[Parameter("stale_after_s", value=2.0)])
    assert sensors.describe_parameter("stale_after_s").description.endswith(", s")
    assert sensors.get_parameter("stale_after_s").value == 2.0
    assert sensors.get_parameter("expected_loop_rate_hz").value == 200.0
    sensors.destroy_node()
