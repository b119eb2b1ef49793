"""The launcher's node over a real Supervisor of short sleeps, asked by the bridge's services port (its ROS
implementation) in the same process: the list, a restart, a stop refused while joint_states says a joint
moves, and the errors an unknown name or action gets."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from sensor_msgs.msg import JointState

from embodied_ai.bridge.settings import BridgeTimeouts
from embodied_ai.errors import EmbodiedError, ErrorCode
from embodied_ai.launcher.config import RestartPolicy
from embodied_ai.launcher.supervisor import ProcessSpec, Supervisor
from embodied_ros.bridge.plumbing import Graph
from embodied_ros.bridge.services import RosServices
from embodied_ros.kit.qos import STATE
from embodied_ros.launcher_node import LauncherRos

SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


class _Quiet:
    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass


@pytest.fixture
def supervisor() -> Iterator[Supervisor]:
    specs = [ProcessSpec("servo_controller", SLEEP), ProcessSpec("sensing", SLEEP, nodes=("perception", "sensors"))]
    running = Supervisor(specs, {}, RestartPolicy(), output=_Quiet())
    running.start()
    yield running
    running.stop(timeout=2.0)


@pytest.fixture
def bridge(supervisor: Supervisor) -> Iterator[tuple[RosServices, rclpy.node.Node]]:
    """The bridge's port on a client node of its own context, and that node (to publish joint_states)."""
    launcher = LauncherRos(supervisor, {})
    context = Context()
    rclpy.init(context=context)
    node = rclpy.create_node("bridge_under_test", context=context, start_parameter_services=False)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        yield RosServices(Graph(node), BridgeTimeouts()), node
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=context)
        spinner.join(5)
        launcher.close()


def _run(coroutine):
    return asyncio.run(coroutine)


async def _services(port: RosServices, timeout: float = 10.0):
    """The list, once discovery has matched the launcher's server."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await port.list_services()
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


def test_the_bridge_lists_and_restarts_through_the_launcher_node(bridge, supervisor: Supervisor) -> None:
    port, _ = bridge
    states = _run(_services(port))
    assert [(s.name, s.process, s.status) for s in states] == [
        ("servo_controller", "servo_controller", "running"), ("perception", "sensing", "running"),
        ("sensors", "sensing", "running")]
    old_pid = supervisor.pids()["sensing"]
    outcome = _run(port.control("perception", "restart", False))
    assert outcome.affects == ("perception", "sensors")
    assert outcome.service.name == "perception" and outcome.service.restarts == 1
    assert outcome.service.pid == supervisor.pids()["sensing"] != old_pid
    with pytest.raises(EmbodiedError, match="no service 'gripper'") as missing:
        _run(port.control("gripper", "start", False))
    assert missing.value.code == ErrorCode.NOT_FOUND
    with pytest.raises(EmbodiedError, match="no action 'pause'") as bad:
        _run(port.control("perception", "pause", False))
    assert bad.value.code == ErrorCode.BAD_REQUEST


def test_the_servo_controller_is_not_stopped_while_joint_states_say_it_moves(bridge, supervisor: Supervisor) -> None:
    port, node = bridge
    _run(_services(port))
    publisher = node.create_publisher(JointState, "joint_states", STATE)
    deadline = time.monotonic() + 10
    while publisher.get_subscription_count() < 1:   # the launcher's subscription
        assert time.monotonic() < deadline, "the launcher node does not subscribe joint_states"
        time.sleep(0.05)
    moving = threading.Event()
    moving.set()

    def move() -> None:   # 50 Hz, as a controller publishes while a joint moves
        while moving.is_set():
            publisher.publish(JointState(name=["elbow_pitch_r"], position=[0.1], velocity=[0.4]))
            time.sleep(0.02)

    mover = threading.Thread(target=move, daemon=True)
    mover.start()
    pid = supervisor.pids()["servo_controller"]
    try:
        time.sleep(0.3)
        with pytest.raises(EmbodiedError, match="while the robot moves") as refused:
            _run(port.control("servo_controller", "stop", True))
        assert refused.value.code == ErrorCode.CONFLICT
        assert supervisor.pids()["servo_controller"] == pid
    finally:
        moving.clear()
        mover.join(2)
    time.sleep(0.6)   # still for longer than the launcher's window
    assert _run(port.control("servo_controller", "stop", False)).service.status == "stopped"
