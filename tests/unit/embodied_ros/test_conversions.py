"""Core types to ROS messages and back: the sensors' messages, diagnostics, the simulator's objects."""

import math

from builtin_interfaces.msg import Time

from embodied_ai.diagnostics import Level, Status
from embodied_ros.conversions import diagnostic_array_msg, sim_objects_msg, temperature_msg, wrench_msg

STAMP = Time(sec=12, nanosec=5)


def test_a_grip_force_is_a_wrench_on_z_in_its_sensor_frame():
    msg = wrench_msg("gripper_r", 5.5, STAMP)
    assert (msg.header.stamp, msg.header.frame_id, msg.wrench.force.z) == (STAMP, "gripper_r_force_link", 5.5)


def test_a_motor_temperature_is_in_its_joint_link_frame():
    msg = temperature_msg("elbow_pitch_r", 41.0, STAMP)
    assert (msg.header.frame_id, msg.temperature, msg.variance) == ("elbow_pitch_r_link", 41.0, 0.0)


def test_statuses_become_one_stamped_diagnostic_array():
    msg = diagnostic_array_msg([Status("camera: head_camera", Level.ERROR, "lost", "sim", {"frames": "3"})], STAMP)
    [status] = msg.status
    assert msg.header.stamp == STAMP and status.level == bytes([2]) and status.values[0].value == "3"


def test_the_simulators_objects_keep_their_order_holders_and_table_positions():
    msg = sim_objects_msg([(1, "r", None), (3, "", (0.36, -0.2))], 0.3, STAMP)
    assert list(msg.ids) == [1, 3] and list(msg.holders) == ["r", ""] and msg.header.frame_id == "base_link"
    assert [(p.x, p.y, p.z) for p in msg.positions] == [(0.0, 0.0, 0.3), (0.36, -0.2, 0.3)]
    assert not any(math.isnan(p.x) for p in msg.positions)
