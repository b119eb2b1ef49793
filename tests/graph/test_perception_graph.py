"""Cameras and perception as an outside ROS client sees them: images, detections with stable
ids for the simulated tabletop, the detect service, grasp by object id, and bad input."""

from __future__ import annotations

import pytest
import yaml
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from embodied_interfaces.action import Grasp, MoveJoints
from embodied_interfaces.msg import Detection2DArray
from embodied_interfaces.srv import Detect
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from tests.graph.bridge_helpers import base_url, http  # noqa: F401  (fixtures)
from tests.graph.conftest import LaunchedGraph
from tests.graph.ros_client import SENSOR_QOS

PERCEPTION_STARTUP_S = 90.0     # model load and the first frames, on a loaded 2-core machine
LABELS = {"cube", "ball", "can"}


def full_scene(messages: list[Detection2DArray]) -> bool:
    return bool(messages) and {d.results[0].hypothesis.class_id for d in messages[-1].detections} >= LABELS


def latest_scene(client) -> Detection2DArray:
    messages = client.collect(Detection2DArray, "/detections", PERCEPTION_STARTUP_S, until=full_scene)
    seen = [[d.results[0].hypothesis.class_id for d in m.detections] for _, m in messages[-3:]]
    assert messages and full_scene([m for _, m in messages]), f"no detections of {LABELS}: {seen}"
    return messages[-1][1]


def ids_by_label(scene: Detection2DArray) -> dict[str, str]:
    return {d.results[0].hypothesis.class_id: d.id for d in scene.detections}


def test_cameras_publish_images_and_calibration_in_their_urdf_frames(client):
    image = client.latest(Image, "/head_camera/image_raw", timeout=30, qos=SENSOR_QOS)
    assert (image.width, image.height, image.encoding) == (640, 480, "bgr8")
    assert image.header.frame_id == "head_camera_optical_frame" and len(image.data) == 640 * 480 * 3
    info = client.latest(CameraInfo, "/head_camera/camera_info", timeout=30, qos=SENSOR_QOS)
    assert info.header.frame_id == "head_camera_optical_frame" and info.k[0] == pytest.approx(320, abs=1)
    compressed = client.latest(CompressedImage, "/head_camera/image_raw/compressed", timeout=30, qos=SENSOR_QOS)
    assert compressed.format == "jpeg" and bytes(compressed.data[:2]) == b"\xff\xd8"
    wrist = client.latest(Image, "/wrist_camera/image_raw", timeout=30, qos=SENSOR_QOS)
    assert wrist.header.frame_id == "wrist_camera_optical_frame" and (wrist.width, wrist.height) == (320, 240)


def test_detections_of_the_sim_tabletop_with_ids_that_stay(client):
    first = latest_scene(client)
    assert first.header.frame_id == "head_camera_optical_frame"
    for detection in first.detections:
        assert detection.id.isdigit() and detection.results[0].hypothesis.score > 0.35
        assert detection.bbox.size_x > 10 and detection.bbox.size_y > 10
        position = detection.results[0].pose.pose.position
        assert 0.25 < position.x < 0.6 and abs(position.y) < 0.4 and 0.28 < position.z < 0.4   # on the table
    later = latest_scene(client)
    assert ids_by_label(later) == ids_by_label(first)


def test_the_detect_service_takes_one_image_and_refuses_bad_ones(client):
    image = client.latest(Image, "/head_camera/image_raw", timeout=30, qos=SENSOR_QOS)
    response = client.call(Detect, "/detect", Detect.Request(image=image), timeout=30)
    assert response.success, response.message
    assert {d.results[0].hypothesis.class_id for d in response.detections.detections} >= LABELS
    image.encoding = "yuv422"
    refused = client.call(Detect, "/detect", Detect.Request(image=image), timeout=30)
    assert not refused.success and refused.error_code == 3000 and "encoding 'yuv422'" in refused.message
    image.encoding, image.data = "bgr8", bytes(image.data[:1000])
    truncated = client.call(Detect, "/detect", Detect.Request(image=image), timeout=30)
    assert not truncated.success and "needs" in truncated.message


def test_grasp_by_object_id_picks_the_object_perception_named(client):
    can_id = int(ids_by_label(latest_scene(client))["can"])
    response = client.run(Grasp, "/grasp", Grasp.Goal(side="r", force=6.0, object_id=can_id), timeout=60)
    result = response.result
    assert result.grasped and result.force_applied == pytest.approx(6.0, abs=0.7), result.message
    assert f"object {can_id} (can" in result.message and "'green_can' is in the r gripper" in result.message
    unknown = client.run(Grasp, "/grasp", Grasp.Goal(side="r", force=6.0, object_id=999), timeout=20).result
    assert not unknown.grasped and "object 999" in unknown.message
    # Leave the arm as the other graph tests expect it: hanging at zero (the can stays in hand).
    home = MoveJoints.Goal(joint_names=["shoulder_pitch_r", "shoulder_roll_r", "elbow_pitch_r"], positions=[0.0] * 3)
    assert client.run(MoveJoints, "/move_joints", home, timeout=30).result.success


def test_the_seed_grasp_by_object_id_uses_the_arm_that_reaches_it(client, http):  # noqa: F811
    """The Robot API's POST /hardware/grasp names no hand: the ball, on the robot's left, is taken with the left."""
    def sees_a_ball(messages: list[Detection2DArray]) -> bool:   # the can may be in the right hand by now
        return bool(messages) and "ball" in ids_by_label(messages[-1])

    messages = client.collect(Detection2DArray, "/detections", PERCEPTION_STARTUP_S, until=sees_a_ball)
    assert messages and sees_a_ball([m for _, m in messages]), "perception sees the ball"
    ball_id = int(ids_by_label(messages[-1][1])["ball"])
    response = http.post("/v1/hardware/grasp", json={"object_id": ball_id, "force": 5.0}, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["grasped"] is True
    assert http.get("/v1/hardware/sensors").json()["data"]["forces"]["gripper_l"] == pytest.approx(5.0, abs=1.0)
    home = MoveJoints.Goal(joint_names=["shoulder_pitch_l", "shoulder_roll_l", "elbow_pitch_l"], positions=[0.0] * 3)
    assert client.run(MoveJoints, "/move_joints", home, timeout=30).result.success


def test_a_camera_that_cannot_open_and_a_missing_model_are_reported_while_the_nodes_stay_up(client, tmp_path):
    config = {
        "nodes": {
            "bad_camera": {"package": "embodied_ros", "executable": "camera",
                           "parameters": {"source": "/dev/video97", "reconnect_period_s": 0.5}},
            "bad_perception": {"package": "embodied_ros", "executable": "perception",
                               "parameters": {"model_manifest": str(tmp_path / "missing.yaml"), "camera": "bad_camera",
                                              "model_retry_s": 0.5}},
        }
    }
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    launched = LaunchedGraph("--config", str(path))   # a second launcher, same DDS domain
    try:
        def reported(messages) -> dict[str, DiagnosticStatus]:
            statuses = {s.name: s for m in messages for s in m.status}
            return {k: v for k, v in statuses.items() if k in ("camera: bad_camera", "perception: detector")
                    and v.level == DiagnosticStatus.ERROR}

        messages = client.collect(DiagnosticArray, "/diagnostics", 60,
                                  until=lambda ms: len(reported(ms)) == 2 and "missing.yaml" in str(
                                      reported(ms)["perception: detector"].message))
        errors = reported([m for _, m in messages])
        assert "cannot open camera v4l2 /dev/video97" in errors["camera: bad_camera"].message
        assert "missing.yaml" in errors["perception: detector"].message
        assert launched.node_pids("bad_camera") and launched.node_pids("bad_perception")
        assert "process exited" not in launched.output, launched.output[-2000:]   # up all along, retrying
    finally:
        assert launched.stop() == 0
