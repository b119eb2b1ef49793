"""The robot graph as an outside ROS client sees it: names, types, rates, actions, safety."""

from __future__ import annotations

import math
import os
import signal
import time

import pytest
from action_msgs.msg import GoalStatus
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from embodied_interfaces.action import Grasp, MoveJoints
from embodied_interfaces.srv import InjectFault
from geometry_msgs.msg import WrenchStamped
from sensor_msgs.msg import Imu, JointState, Temperature
from std_msgs.msg import String
from std_srvs.srv import Trigger

from embodied_ai.robot.description import CONTRACT_JOINTS
from tests.graph.ros_client import LATCHED_QOS, SENSOR_QOS

DEG = math.radians
TOPICS = {
    "/joint_states": "sensor_msgs/msg/JointState",
    "/robot_description": "std_msgs/msg/String",
    "/hardware_state": "embodied_interfaces/msg/HardwareState",
    "/diagnostics": "diagnostic_msgs/msg/DiagnosticArray",
    "/imu": "sensor_msgs/msg/Imu",
    "/force/gripper_l": "geometry_msgs/msg/WrenchStamped",
    "/force/gripper_r": "geometry_msgs/msg/WrenchStamped",
    "/temperature/elbow_pitch_r": "sensor_msgs/msg/Temperature",
    "/joint_commands": "sensor_msgs/msg/JointState",
}


def joint_position(client, joint: str) -> float:
    msg = client.latest(JointState, "/joint_states")
    return msg.position[list(msg.name).index(joint)]


def move(client, positions: dict[str, float], duration: float = 0.0, relative: bool = False, feedback=None):
    goal = MoveJoints.Goal(joint_names=list(positions), positions=list(positions.values()),
                           duration=duration, relative=relative)
    return client.run(MoveJoints, "/move_joints", goal, feedback)


def test_topics_services_and_actions_have_the_documented_names_and_types(client):
    client.wait_until(lambda: all(t in client.topics() for t in TOPICS), 20, "all topics")
    topics = client.topics()
    for name, msg_type in TOPICS.items():
        assert topics[name] == [msg_type], name
    services = client.services()
    assert services["/emergency_stop"] == ["std_srvs/srv/Trigger"]
    assert services["/reset_emergency_stop"] == ["std_srvs/srv/Trigger"]
    assert "/move_joints/_action/send_goal" in services and "/grasp/_action/send_goal" in services
    assert "/servo_controller/change_state" in services  # a lifecycle node


def test_joint_states_at_100_hz_or_more_with_every_contract_joint(client):
    messages = client.collect(JointState, "/joint_states", 2.0)
    stamps = [m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for _, m in messages]
    rate = (len(stamps) - 1) / (stamps[-1] - stamps[0])
    assert rate >= 100.0, f"{rate:.1f} Hz"
    assert tuple(messages[-1][1].name) == CONTRACT_JOINTS
    assert all(math.isfinite(p) for p in messages[-1][1].position)


def test_robot_description_is_latched_for_late_joiners(client):
    urdf = client.latest(String, "/robot_description", qos=LATCHED_QOS).data
    assert '<robot name="embodied_humanoid">' in urdf and 'joint name="gripper_r"' in urdf


def test_sensors_publish_standard_messages(client):
    imu = client.latest(Imu, "/imu", qos=SENSOR_QOS)
    assert imu.header.frame_id == "imu_link" and imu.linear_acceleration.z == pytest.approx(9.81, abs=0.2)
    temperature = client.latest(Temperature, "/temperature/elbow_pitch_r", qos=SENSOR_QOS)
    assert 15.0 < temperature.temperature < 60.0 and temperature.header.frame_id == "elbow_pitch_r_link"
    force = client.latest(WrenchStamped, "/force/gripper_l", qos=SENSOR_QOS)
    assert force.header.frame_id == "gripper_l_force_link"


def test_move_joints_moves_shoulder_pitch_r_by_30_degrees_with_feedback(client):
    start = joint_position(client, "shoulder_pitch_r")
    feedback = []
    response = move(client, {"shoulder_pitch_r": DEG(30)}, relative=True, feedback=feedback)
    assert response.status == GoalStatus.STATUS_SUCCEEDED, response.result.message
    assert response.result.success and response.result.error_code == 0
    assert math.degrees(joint_position(client, "shoulder_pitch_r") - start) == pytest.approx(30, abs=1.0)
    assert len(feedback) >= 5 and feedback[-1].joint_names == ["shoulder_pitch_r"]
    assert 0.0 < feedback[len(feedback) // 2].progress < 1.0
    move(client, {"shoulder_pitch_r": start})


def test_goal_at_400_degrees_is_refused_with_a_safety_reason(client):
    before = joint_position(client, "shoulder_pitch_r")
    response = move(client, {"shoulder_pitch_r": DEG(400)})
    assert response.status == GoalStatus.STATUS_ABORTED
    assert response.result.error_code == 4001 and not response.result.success
    assert "outside the joint limits" in response.result.message
    assert joint_position(client, "shoulder_pitch_r") == pytest.approx(before, abs=1e-3)


def test_emergency_stop_halts_a_motion_midway_and_latches(client):
    goal = MoveJoints.Goal(joint_names=["shoulder_pitch_r"], positions=[DEG(-90)], duration=3.0)
    handle = client.send_goal(MoveJoints, "/move_joints", goal)
    time.sleep(1.2)
    stop = client.call(Trigger, "/emergency_stop", Trigger.Request())
    assert stop.success and "latched" in stop.message
    response = client.result(handle)
    assert response.status == GoalStatus.STATUS_ABORTED and response.result.error_code == 4001
    time.sleep(0.3)
    halted = joint_position(client, "shoulder_pitch_r")
    time.sleep(0.5)
    assert joint_position(client, "shoulder_pitch_r") == pytest.approx(halted, abs=DEG(0.5))
    assert DEG(-85) < halted < DEG(-5), math.degrees(halted)

    refused = move(client, {"head_pan": DEG(10)})
    assert refused.status == GoalStatus.STATUS_ABORTED and "emergency stop is latched" in refused.result.message

    def estop_level(arrays):
        return any(s.name == "servo_controller: emergency stop" and s.level == DiagnosticStatus.ERROR
                   for a in arrays for s in a.status)
    assert estop_level([m for _, m in client.collect(DiagnosticArray, "/diagnostics", 3.0, until=estop_level)])

    reset = client.call(Trigger, "/reset_emergency_stop", Trigger.Request())
    assert reset.success and "reset" in reset.message
    assert move(client, {"shoulder_pitch_r": 0.0}).status == GoalStatus.STATUS_SUCCEEDED


def test_grasp_closes_on_the_simulated_object_until_the_force(client):
    response = client.run(Grasp, "/grasp", Grasp.Goal(side="r", force=6.0, object_id=-1))
    assert response.status == GoalStatus.STATUS_SUCCEEDED, response.result.message
    assert response.result.grasped and response.result.force_applied == pytest.approx(6.0, abs=0.7)
    assert response.result.time_ms > 0
    force = client.latest(WrenchStamped, "/force/gripper_r", qos=SENSOR_QOS)
    assert force.wrench.force.z == pytest.approx(6.0, abs=0.7)
    too_hard = client.run(Grasp, "/grasp", Grasp.Goal(side="r", force=100.0, object_id=-1))
    assert too_hard.status == GoalStatus.STATUS_ABORTED and too_hard.result.error_code == 4001
    assert move(client, {"gripper_r": 0.0}).status == GoalStatus.STATUS_SUCCEEDED


def test_cancel_decelerates_to_rest_short_of_the_goal(client):
    handle = client.send_goal(MoveJoints, "/move_joints",
                              MoveJoints.Goal(joint_names=["head_pan"], positions=[DEG(80)], duration=3.0))
    time.sleep(1.0)
    cancel = handle.cancel_goal_async()
    client._wait_future(cancel, 5, "cancel")
    response = client.result(handle)
    assert response.status == GoalStatus.STATUS_CANCELED
    stopped = joint_position(client, "head_pan")
    assert DEG(5) < stopped < DEG(75)
    move(client, {"head_pan": 0.0})


def test_stale_command_stream_stops_the_joint(client):
    publisher = client.publisher(JointState, "/joint_commands")
    target = DEG(140)  # far enough that the 0.5 s watchdog must stop the joint on the way
    for _ in range(15):  # 0.3 s at 50 Hz, then silence
        publisher.publish(JointState(name=["wrist_roll_r"], position=[target]))
        time.sleep(0.02)
    time.sleep(1.5)  # watchdog 0.5 s + deceleration
    first = joint_position(client, "wrist_roll_r")
    time.sleep(0.3)
    assert joint_position(client, "wrist_roll_r") == pytest.approx(first, abs=1e-3)
    assert DEG(5) < first < DEG(120)  # it moved, then stopped well short of the target
    client.node.destroy_publisher(publisher)
    move(client, {"wrist_roll_r": 0.0})


def test_over_temperature_is_reported_and_stops_the_joint(client):
    reply = client.call(InjectFault, "/sim/inject_fault", InjectFault.Request(joint="wrist_roll_l", fault="overheat"))
    assert reply.success, reply.message

    def motor_error(arrays):
        return any(s.name == "motor: wrist_roll_l" and s.level == DiagnosticStatus.ERROR
                   and "over-temperature" in s.message for a in arrays for s in a.status)
    assert motor_error([m for _, m in client.collect(DiagnosticArray, "/diagnostics", 5.0, until=motor_error)])
    refused = move(client, {"wrist_roll_l": DEG(20)})
    assert refused.result.error_code == 4001 and "over-temperature" in refused.result.message
    assert move(client, {"head_pan": DEG(5)}).status == GoalStatus.STATUS_SUCCEEDED  # others still move


def test_a_killed_node_is_restarted(graph, client):
    old_pid = graph.node_pids("servo_controller")[-1]
    os.kill(old_pid, signal.SIGKILL)  # our own child, by PID
    graph.wait_for_output(r"servo_controller: process exited with code -9", 10)
    client.wait_until(lambda: len(graph.node_pids("servo_controller")) >= 2, 15, "a restarted servo_controller")
    assert graph.node_pids("servo_controller")[-1] != old_pid
    graph.wait_for_output(r"\[servo_controller]: active", 30)
    messages = client.collect(JointState, "/joint_states", 10.0, until=lambda ms: len(ms) >= 50)
    assert len(messages) >= 50
