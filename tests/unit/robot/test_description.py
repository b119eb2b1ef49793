import math

import pytest

from embodied_ai.robot.description import (
    CONTRACT_JOINTS,
    RobotDescriptionError,
    camera_frame,
    load_robot_description,
    parse_robot_description,
)
from tests.conftest import URDF


def test_urdf_has_every_contract_joint_with_limits(description):
    assert description.joint_names[: len(CONTRACT_JOINTS)] == CONTRACT_JOINTS
    for joint in CONTRACT_JOINTS:
        limits = description.joint(joint)
        assert limits.lower < limits.upper and limits.velocity > 0 and limits.effort > 0


def test_urdf_limits_are_the_ones_written(description):
    shoulder = description.joint("shoulder_pitch_r")
    assert math.degrees(shoulder.lower) == pytest.approx(-180, abs=0.01)
    assert math.degrees(shoulder.upper) == pytest.approx(60, abs=0.01)
    assert shoulder.velocity == 1.5


def test_urdf_has_camera_force_and_imu_frames(description):
    for frame in ("head_camera_optical_frame", "wrist_camera_optical_frame",
                  "gripper_l_force_link", "gripper_r_force_link", "imu_link"):
        assert frame in description.frames


def test_unknown_joint_lookup_names_the_known_ones(description):
    with pytest.raises(KeyError, match="known joints: head_pan"):
        description.joint("tail")


def test_missing_contract_joint_is_an_error():
    text = URDF.read_text().replace('name="head_tilt"', 'name="neck"')
    with pytest.raises(RobotDescriptionError, match="lacks contract joints: head_tilt"):
        parse_robot_description(text)


@pytest.mark.parametrize("broken, message", [
    ('velocity="2.0"', "numeric"),
    ('lower="-1.5708" upper="1.5708"', "lower < upper"),
])
def test_malformed_limits_are_errors(broken, message):
    text = URDF.read_text()
    replacement = {'velocity="2.0"': 'velocity="fast"',
                   'lower="-1.5708" upper="1.5708"': 'lower="1.5708" upper="-1.5708"'}[broken]
    assert broken in text
    with pytest.raises(RobotDescriptionError, match=message):
        parse_robot_description(text.replace(broken, replacement, 1))


def test_unreadable_or_invalid_files_are_errors(tmp_path):
    with pytest.raises(RobotDescriptionError, match="cannot read"):
        load_robot_description(tmp_path / "missing.urdf")
    bad = tmp_path / "bad.urdf"
    bad.write_text("<robot><joint")
    with pytest.raises(RobotDescriptionError, match="not valid XML"):
        load_robot_description(bad)


def test_a_cameras_frame_is_the_urdfs_or_named_after_it():
    assert camera_frame("head_camera") == "head_camera_optical_frame"
    assert camera_frame("bench_camera") == "bench_camera_optical_frame"
