"""The servo controller node on the Dynamixel back end: against the emulated bus on a
pseudo-terminal (protocol-level, as a real U2D2 adapter would be), and with no bus at all."""

from __future__ import annotations

import math

import pytest
import yaml
from action_msgs.msg import GoalStatus
from embodied_interfaces.action import MoveJoints
from sensor_msgs.msg import JointState

from embodied_ai.hardware.dynamixel.emulator import EmulatedDynamixelBus
from tests.conftest import REPO
from tests.graph.conftest import LaunchedGraph, private_domain_id
from tests.graph.ros_client import GraphClient

CONFIG = yaml.safe_load((REPO / "launch" / "hardware_dynamixel.yaml").read_text())


def dynamixel_graph(config_path, domain_id: int) -> LaunchedGraph:
    return LaunchedGraph(
        "--only", "servo_controller",
        "--set", "servo_controller.hardware=dynamixel",
        "--set", f"servo_controller.hardware_config_file={config_path}",
        "--set", "servo_controller.autostart_retry_s=0.5",
        "--set", "servo_controller.rate_hz=100.0",
        env={"ROS_DOMAIN_ID": str(domain_id)},
    )


@pytest.fixture
def isolated_domain(monkeypatch) -> int:
    """A domain of its own, so this controller never meets the session graph's."""
    domain_id = private_domain_id()
    monkeypatch.setenv("ROS_DOMAIN_ID", str(domain_id))
    return domain_id


def test_controller_node_drives_the_emulated_dynamixel_bus(tmp_path, isolated_domain):
    with EmulatedDynamixelBus([entry["id"] for entry in CONFIG["joints"].values()], time_constant_s=0.03) as bus:
        config = tmp_path / "bus.yaml"
        config.write_text(yaml.safe_dump({**CONFIG, "port": bus.port_name, "status_timeout_s": 0.1}))
        graph = dynamixel_graph(config, isolated_domain)
        try:
            graph.wait_for_output(r"hardware 'dynamixel'", 30)
            graph.wait_for_output(r"\[servo_controller]: active", 30)
            with GraphClient() as client:
                goal = MoveJoints.Goal(joint_names=["head_pan"], positions=[math.radians(15)], duration=0.5)
                response = client.run(MoveJoints, "/move_joints", goal)
                assert response.status == GoalStatus.STATUS_SUCCEEDED, response.result.message
                state = client.latest(JointState, "/joint_states")
                assert math.degrees(state.position[list(state.name).index("head_pan")]) == pytest.approx(15, abs=0.5)
            # The goal travelled over the wire to servo 1 (head_pan).
            assert any(abs(ticks - (2048 + 15 / 360 * 4096)) < 3 for ticks in bus.goal_history[1])
        finally:
            assert graph.stop() == 0


def test_missing_bus_is_a_clear_error_and_the_node_keeps_retrying(tmp_path, isolated_domain):
    config = tmp_path / "bus.yaml"
    config.write_text(yaml.safe_dump({**CONFIG, "port": str(tmp_path / "no-such-adapter")}))
    graph = dynamixel_graph(config, isolated_domain)
    try:
        graph.wait_for_output(r"configure failed: .*no-such-adapter", 30)
        graph.wait_for_output(r"autostart failed; retrying", 10)
        graph.wait_for_output(r"(?s)retrying.*configure failed.*configure failed", 10)  # it tries again
        assert "process exited" not in graph.output  # the node stayed up
    finally:
        assert graph.stop() == 0
