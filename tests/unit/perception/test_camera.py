"""The simulated cameras (kinematics + renderer) and the OpenCV camera sources."""

import math
import threading
import time

import cv2
import numpy as np
import pytest

from embodied_ai.diagnostics import Level
from embodied_ai.hardware.factory import create_hardware, load_hardware_config
from embodied_ai.hardware.sim import SimObject
from embodied_ai.perception.camera import (
    CameraError,
    CaptureLoop,
    OpenCVCamera,
    SimCamera,
    SimScene,
    SourceSpec,
    jetson_csi_pipeline,
    simulated_camera,
)
from embodied_ai.perception.geometry import point_on_plane
from embodied_ai.perception.intrinsics import CameraIntrinsics
from embodied_ai.perception.render import TabletopRenderer
from embodied_ai.perception.status import ComponentStatus
from embodied_ai.robot.kinematics import Kinematics
from tests.conftest import REPO

HEAD = "head_camera_optical_frame"
WRIST = "wrist_camera_optical_frame"


@pytest.fixture
def sim(description):
    return create_hardware("sim", description, load_hardware_config(REPO / "launch" / "hardware_sim.yaml"))


@pytest.fixture
def renderer(sim):
    return TabletopRenderer(sim.kinematics, sim.table, CameraIntrinsics.from_fov(640, 480, 90))


def box_centre(view, name):
    box = next(b.box for b in view.boxes if b.name == name)
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def test_kinematics_follow_the_urdf(description):
    kinematics = Kinematics(description.urdf)
    zero = kinematics.link_pose(HEAD, {})
    # torso 0.40 + head_pan 0.30 + head_tilt 0.05 + camera (0.08, 0, 0.06)
    np.testing.assert_allclose(zero[:3, 3], [0.08, 0.0, 0.81], atol=1e-9)
    # The optical frame looks along base x (z forward), x right (-y), y down (-z).
    np.testing.assert_allclose(zero[:3, :3] @ [0, 0, 1], [1, 0, 0], atol=1e-4)
    np.testing.assert_allclose(zero[:3, :3] @ [1, 0, 0], [0, -1, 0], atol=1e-4)
    tilted = kinematics.link_pose(HEAD, {"head_tilt": 0.5})
    np.testing.assert_allclose(tilted[:3, :3] @ [0, 0, 1], [math.cos(0.5), 0, -math.sin(0.5)], atol=1e-4)
    # The right arm hangs down from its shoulder: fingers 0.57 m below it at zero.
    fingers = kinematics.link_position("gripper_r_force_link", {})
    np.testing.assert_allclose(fingers, [0.0, -0.23, 0.65 - 0.57], atol=1e-9)


def test_the_head_camera_sees_the_table_objects_where_they_are(sim, renderer):
    view = renderer.render(HEAD, sim.positions, sim.objects)
    assert {b.name for b in view.boxes} == {"green_can", "yellow_cube", "orange_ball"}
    # Each box centre, cast back onto the table, lands near the object (the inverse of rendering).
    pose = renderer.camera_pose(HEAD, sim.positions)
    for obj in sim.objects:
        if obj.table_xy is None:
            continue
        centre = sim.table.object_centre(obj)
        point = point_on_plane(pose, renderer.intrinsics, *box_centre(view, obj.name), centre[2])
        assert np.linalg.norm(point[:2] - centre[:2]) < 0.015, obj.name


def test_panning_the_head_moves_the_scene_the_other_way(sim, renderer):
    ahead = renderer.render(HEAD, sim.positions, sim.objects)
    left = renderer.render(HEAD, {**sim.positions, "head_pan": 0.2}, sim.objects)
    # Looking left (positive pan about z), objects move right in the image.
    assert box_centre(left, "yellow_cube")[0] > box_centre(ahead, "yellow_cube")[0] + 50


def test_the_wrist_camera_follows_the_right_arm(sim, renderer):
    hanging = renderer.render(WRIST, sim.positions, sim.objects)
    raised = {**sim.positions, "shoulder_pitch_r": -1.2, "elbow_pitch_r": 2.0}   # wrist up, looking down
    above_table = renderer.render(WRIST, raised, sim.objects)
    # Hanging below the table top, the camera sees the table's edge, not what stands on it;
    # raised above it, it looks across the table at the objects.
    assert renderer.camera_pose(WRIST, sim.positions)[2, 3] < sim.table.top_z_m
    assert not hanging.boxes
    assert renderer.camera_pose(WRIST, raised)[2, 3] > sim.table.top_z_m
    assert {"green_can", "yellow_cube"} <= {b.name for b in above_table.boxes}


def test_the_sim_camera_needs_joint_positions(sim, renderer):
    positions = None
    camera = SimCamera(renderer, HEAD, lambda: positions, lambda: sim.objects)
    with pytest.raises(CameraError, match="no joint positions yet"):
        camera.read()
    positions = sim.positions
    frame = camera.read()
    assert frame.image.shape == (480, 640, 3) and frame.stamp_ns > 0


def test_a_robot_at_rest_reuses_its_scene_and_still_gets_fresh_sensor_noise(sim, renderer):
    positions = dict(sim.positions)
    objects = list(sim.objects)
    camera = SimCamera(renderer, HEAD, lambda: positions, lambda: objects)
    first, second = camera.read(), camera.read()
    assert camera.scenes_drawn == 1
    assert not np.array_equal(first.image, second.image)   # noise differs from frame to frame
    assert np.abs(first.image.astype(int) - second.image.astype(int)).mean() < 5   # the same scene
    positions["head_pan"] += 0.2   # the head turns: the scene is drawn again
    panned = camera.read()
    assert camera.scenes_drawn == 2 and np.abs(panned.image.astype(int) - second.image.astype(int)).mean() > 5
    objects[0].table_xy, objects[0].in_gripper = (0.45, 0.05), None   # an object moves
    camera.read()
    assert camera.scenes_drawn == 3


@pytest.mark.parametrize("spec, kind, target", [
    ("0", "v4l2", 0),
    ("/dev/video2", "v4l2", "/dev/video2"),
    ("rtsp://127.0.0.1:8554/cam", "stream", "rtsp://127.0.0.1:8554/cam"),
    ("gst:videotestsrc ! appsink", "gstreamer", "videotestsrc ! appsink"),
    ("v4l2src ! videoconvert ! appsink", "gstreamer", "v4l2src ! videoconvert ! appsink"),
    ("clip.mp4", "file", "clip.mp4"),
])
def test_source_strings_pick_the_back_end(spec, kind, target):
    parsed = SourceSpec.parse(spec, 640, 480, 30)
    assert (parsed.kind, parsed.target) == (kind, target)


def test_jetson_csi_source_is_an_argus_pipeline():
    parsed = SourceSpec.parse("csi:1", 1280, 720, 30)
    assert parsed.kind == "gstreamer" and parsed.target == jetson_csi_pipeline(1, 1280, 720, 30)
    assert parsed.target.startswith("nvarguscamerasrc sensor-id=1 ! video/x-raw(memory:NVMM)")
    assert parsed.target.endswith("appsink drop=true max-buffers=1 sync=false")


def test_a_video_file_loops_and_is_resized(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    for i in range(5):
        writer.write(np.full((120, 160, 3), i * 50, np.uint8))
    writer.release()
    camera = OpenCVCamera(str(path), width=320, height=240)
    camera.open()
    levels = [int(camera.read().image.mean().round(-1)) for _ in range(12)]
    camera.close()
    assert levels[:5] == [0, 50, 100, 150, 200]
    assert levels[5:10] == levels[:5]           # played again from the start
    assert camera.size == (320, 240)


@pytest.mark.parametrize("spec, message", [
    ("/dev/video97", "cannot open camera v4l2 /dev/video97"),
    ("missing.mp4", "video file missing.mp4 does not exist"),
])
def test_a_camera_that_cannot_open_raises_a_clear_error(spec, message):
    with pytest.raises(CameraError, match=message):
        OpenCVCamera(spec).open()


def test_gstreamer_without_opencv_support_is_explained(monkeypatch):
    monkeypatch.setattr("embodied_ai.perception.camera.opencv_has_gstreamer", lambda: False)
    with pytest.raises(CameraError, match="no GStreamer support"):
        OpenCVCamera("csi:0").open()


def test_a_read_after_the_device_is_gone_raises(tmp_path):
    camera = OpenCVCamera("/dev/video97")
    with pytest.raises(CameraError, match="not open"):
        camera.read()


def test_the_capture_loop_reports_a_missing_source_retries_and_then_streams(renderer):
    positions: list[dict | None] = [None]   # no joint_states yet: the simulated camera cannot render
    camera = SimCamera(renderer, HEAD, lambda: positions[0], lambda: [])
    statuses: list[tuple[Level, str]] = []
    status = ComponentStatus("camera: head_camera", Level.WARN, "starting", "sim",
                             lambda s, changed: statuses.append((s.level, s.message)))
    loop = CaptureLoop(camera, rate_hz=50.0, reconnect_period_s=0.05, status=status)
    stop, frames = threading.Event(), []

    def publish(frame) -> None:
        frames.append(frame)
        if len(frames) == 3:
            stop.set()
    thread = threading.Thread(target=loop.run, args=(stop, lambda: True, publish))
    thread.start()
    time.sleep(0.2)
    assert statuses[-1][0] is Level.ERROR and "no joint positions yet" in statuses[-1][1] and not frames
    positions[0] = {}
    thread.join(timeout=5.0)
    assert not thread.is_alive() and loop.frames == 3 and frames[0].image.shape == (480, 640, 3)
    assert (Level.OK, "streaming from simulated head_camera_optical_frame") in statuses
    assert frames[0].stamp_ns < frames[-1].stamp_ns


def test_the_scene_follows_the_simulators_reports():
    scene = SimScene([SimObject(1, "red_cube", 0.05, "r"), SimObject(2, "ball", 0.05, table_xy=(0.4, 0.1))])
    scene.update([1, 2, 9], ["", "l", ""], [(0.3, -0.1), (0.0, 0.0), (0.5, 0.5)])   # 9: not in this camera's config
    cube, ball = scene.objects()
    assert (cube.in_gripper, cube.table_xy) == (None, (0.3, -0.1))
    assert (ball.in_gripper, ball.table_xy) == ("l", None)


def test_a_simulated_camera_is_built_from_the_urdf_and_the_sim_config():
    camera, scene = simulated_camera(str(REPO / "urdf" / "embodied_robot.urdf"),
                                     str(REPO / "launch" / "hardware_sim.yaml"),
                                     CameraIntrinsics.from_fov(320, 240, 90), WRIST, lambda: {})
    assert {o.name for o in scene.objects()} >= {"green_can", "orange_ball"}
    assert camera.read().image.shape == (240, 320, 3)
