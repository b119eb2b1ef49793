"""Hardware routes: degrees at the API, radians at the port; the controller's refusals pass through."""

from __future__ import annotations

import math

import pytest
from fastapi.testclient import TestClient

from tests.unit.bridge.envelope import data, error
from tests.unit.bridge.fake_ports import FakeGraph


def test_a_move_goes_in_radians_and_answers_in_degrees(client: TestClient, fake: FakeGraph) -> None:
    moved = data(client.post("/v1/hardware/servo/move", json={"joint_name": "elbow_pitch_r", "angle": 45.0,
                                                                "duration_ms": 500}))
    assert moved == {"joint_name": "elbow_pitch_r", "angle": pytest.approx(45.0), "target": 45.0, "time_ms": 12.5}
    assert fake.calls[-1] == ("move_joints", ({"elbow_pitch_r": pytest.approx(math.pi / 4)}, 0.5, False))


def test_a_move_without_a_duration_leaves_the_speed_to_the_controller(client: TestClient, fake: FakeGraph) -> None:
    data(client.post("/v1/hardware/servo/move", json={"joint_name": "elbow_pitch_r", "angle": 10.0,
                                                      "relative": True}))
    assert fake.calls[-1][1][1:] == (None, True)  # type: ignore[index]


def test_a_refused_move_is_a_safety_violation(client: TestClient) -> None:
    refused = error(client.post("/v1/hardware/servo/move", json={"joint_name": "elbow_pitch_r", "angle": 999.0}),
                    422, 4001)
    assert refused["message"] == "Safety violation" and "beyond its limit" in refused["details"]


def test_a_grasp_without_an_object_or_side_is_the_default_arm_on_what_is_held(client: TestClient,
                                                                              fake: FakeGraph) -> None:
    grasped = data(client.post("/v1/hardware/grasp", json={"force": 5.0}))
    assert grasped == {"grasped": True, "force_applied": 5.0, "time_ms": 300}
    assert fake.calls[-1] == ("grasp", ("", 5.0, -1))


def test_sensors_are_in_degrees_and_unknown_temperatures_are_left_out(client: TestClient, fake: FakeGraph) -> None:
    fake.joints["elbow_pitch_r"] = math.pi / 2
    sensors = data(client.get("/v1/hardware/sensors"))
    assert sensors["joint_positions"]["elbow_pitch_r"] == pytest.approx(90.0)
    assert sensors["temperatures"] == {"shoulder_pitch_r": 35.0}  # the NaN one has no reading
    assert sensors["cameras"] == {"head_camera": "absent", "wrist_camera": "absent"}
    assert sensors["control_loop_hz"] == 200.0 and sensors["age_ms"] == pytest.approx(4.0)


def test_the_emergency_stop_latches_and_resets(client: TestClient) -> None:
    assert data(client.post("/v1/hardware/emergency_stop")) == {"latched": True, "message": "emergency stop latched"}
    error(client.post("/v1/hardware/servo/move", json={"joint_name": "elbow_pitch_r", "angle": 1.0}), 422, 4001)
    assert data(client.post("/v1/hardware/emergency_stop/reset"))["latched"] is False
    data(client.post("/v1/hardware/servo/move", json={"joint_name": "elbow_pitch_r", "angle": 1.0}))


def test_a_malformed_move_is_a_bad_request(client: TestClient, fake: FakeGraph) -> None:
    details = error(client.post("/v1/hardware/servo/move", json={"joint_name": "elbow", "angle": "far"}),
                    400, 400)["details"]
    assert details[0]["loc"] == ["body", "angle"]
    assert not fake.calls
