"""Camera node: one process per camera (head_camera, wrist_camera), named after it.

Publishes, under the node's name (``~/``, so node ``head_camera`` gives ``/head_camera/...``):
  image_raw             sensor_msgs/Image (bgr8), stamped at capture, frame id from the URDF
  image_raw/compressed  sensor_msgs/CompressedImage (jpeg; encoded only while someone listens)
  camera_info           sensor_msgs/CameraInfo (pinhole from horizontal_fov_deg; no distortion)
  /diagnostics          diagnostic_msgs/DiagnosticArray: this camera's state, 1 Hz and on change

Parameters: ``source`` ("sim" or an OpenCV source; see embodied_ai.perception.camera),
``width``, ``height``, ``rate_hz``, ``horizontal_fov_deg``, ``frame_id`` (default: the URDF
optical frame of the camera named by ``camera``), ``reconnect_period_s``, ``jpeg_quality``;
for ``sim`` also ``robot_description_file`` and ``hardware_config_file`` (the tabletop).

A capture thread reads frames at ``rate_hz``; when the device cannot open or stops
delivering, the error goes to the log and /diagnostics, the device is released and reopened
every ``reconnect_period_s``, and the node stays up. In ``sim`` the frames are rendered from
the latest /joint_states (so the head camera follows head_pan/head_tilt and the wrist camera
the right arm), with the objects as the simulator reports them on sim/objects.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence

import cv2
import numpy as np
import rclpy
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from embodied_interfaces.msg import SimObjects
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from embodied_ai.diagnostics import Level, Status
from embodied_ai.hardware.factory import load_hardware_config, sim_object_from_config, sim_table_from_config
from embodied_ai.hardware.sim import SimObject
from embodied_ai.perception.camera import CameraError, CameraSource, OpenCVCamera, SimCamera
from embodied_ai.perception.render import CameraIntrinsics, TabletopRenderer
from embodied_ai.robot import load_robot_description
from embodied_ai.robot.description import CAMERA_FRAMES
from embodied_ai.robot.kinematics import Kinematics
from embodied_ros.conversions import diagnostic_status_msg
from embodied_ros.kit.qos import LATCHED, SENSOR_DATA, STATE
from embodied_ros.kit.spin import run_worker, spin_until_shutdown
from embodied_ros.vision import LatestJointState, camera_info_msg, image_msg


def stamp_msg(stamp_ns: int) -> Time:
    return Time(sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000)


class SimScene:
    """The simulator's objects as this process knows them: appearance from the sim config,
    which gripper holds what (and where table objects stand) from the sim/objects topic."""

    def __init__(self, objects: Sequence[SimObject]) -> None:
        self._objects = {o.object_id: o for o in objects}
        self._lock = threading.Lock()

    def objects(self) -> list[SimObject]:
        with self._lock:
            return list(self._objects.values())

    def update(self, msg: SimObjects) -> None:
        with self._lock:
            for object_id, holder, position in zip(msg.ids, msg.holders, msg.positions):
                obj = self._objects.get(object_id)
                if obj is None:
                    continue
                obj.in_gripper = holder or None
                obj.table_xy = None if holder else (position.x, position.y)


class CameraNode(Node):
    def __init__(self) -> None:
        super().__init__("camera")
        self.camera = self.declare_parameter("camera", self.get_name()).value
        self.declare_parameter("source", "sim")
        self.declare_parameter("width", 640)
        self.declare_parameter("height", 480)
        self.declare_parameter("rate_hz", 15.0)
        self.declare_parameter("horizontal_fov_deg", 90.0)
        self.declare_parameter("frame_id", CAMERA_FRAMES.get(self.camera, f"{self.camera}_optical_frame"))
        self.declare_parameter("reconnect_period_s", 2.0)
        self.declare_parameter("jpeg_quality", 80)
        self.declare_parameter("robot_description_file", "")
        self.declare_parameter("hardware_config_file", "")
        p = {name: self.get_parameter(name).value for name in (
            "source", "width", "height", "rate_hz", "horizontal_fov_deg", "frame_id", "reconnect_period_s", "jpeg_quality")}
        self._frame_id = str(p["frame_id"])
        self._period = 1.0 / float(p["rate_hz"])
        self._reconnect_period = float(p["reconnect_period_s"])
        self._jpeg_quality = int(p["jpeg_quality"])
        self._intrinsics = CameraIntrinsics.from_fov(int(p["width"]), int(p["height"]), float(p["horizontal_fov_deg"]))
        self._image = self.create_publisher(Image, "~/image_raw", SENSOR_DATA)
        self._compressed = self.create_publisher(CompressedImage, "~/image_raw/compressed", SENSOR_DATA)
        self._info = self.create_publisher(CameraInfo, "~/camera_info", SENSOR_DATA)
        self._diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", STATE)
        self._status = Status(f"camera: {self.camera}", Level.WARN, "starting", str(p["source"]))
        self._frames = 0
        self._source = self._make_source(str(p["source"]), int(p["width"]), int(p["height"]), float(p["rate_hz"]))
        self.create_timer(1.0, self._publish_diagnostics)
        self._stop = threading.Event()
        self.capture_failed = False
        self._thread = threading.Thread(target=self._capture_loop, name="capture", daemon=True)
        self._thread.start()

    # -- sources ------------------------------------------------------------------------
    def _make_source(self, source: str, width: int, height: int, rate_hz: float) -> CameraSource:
        if source != "sim":
            return OpenCVCamera(source, width, height, round(rate_hz))
        description = load_robot_description(self.get_parameter("robot_description_file").value)
        config = load_hardware_config(self.get_parameter("hardware_config_file").value)
        scene = SimScene([sim_object_from_config(o) for o in config.get("objects", [])])
        renderer = TabletopRenderer(Kinematics(description.urdf), sim_table_from_config(config.get("table") or {}),
                                    self._intrinsics)
        self._joint_states = LatestJointState(self, STATE)
        self.create_subscription(SimObjects, "sim/objects", scene.update, LATCHED)
        return SimCamera(renderer, self._frame_id, self._joint_states.positions, scene.objects,
                         seed=int(config.get("seed", 0)))

    # -- capture (own thread) -----------------------------------------------------------
    def _capture_loop(self) -> None:
        run_worker(self, "capture loop", self._run_capture, self._record_failure, self._stop.is_set)

    def _record_failure(self) -> None:
        self.capture_failed = True

    def _run_capture(self) -> None:
        opened = False
        next_frame = time.monotonic()
        while not self._stop.is_set() and self.context.ok():
            try:
                if not opened:
                    self._source.open()
                    opened = True
                    self._set_status(Level.OK, f"streaming from {self._source.description}")
                frame = self._source.read()
                self._publish(frame.image, frame.stamp_ns)
            except CameraError as exc:
                # A lost or missing device: say so, let it go, try again later. The node stays up.
                self.get_logger().error(f"{exc}; retrying in {self._reconnect_period:.0f} s",
                                        throttle_duration_sec=10.0)
                self._set_status(Level.ERROR, str(exc))
                self._source.close()
                opened = False
                self._stop.wait(self._reconnect_period)
                next_frame = time.monotonic()
                continue
            next_frame += self._period
            delay = next_frame - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            else:
                next_frame = time.monotonic()   # fell behind (slow device): do not burst to catch up

    def _publish(self, image: np.ndarray, stamp_ns: int) -> None:
        stamp = stamp_msg(stamp_ns)
        self._image.publish(image_msg(image, stamp, self._frame_id))
        self._info.publish(camera_info_msg(self._intrinsics, stamp, self._frame_id))
        if self._compressed.get_subscription_count() > 0:
            ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self._jpeg_quality])
            if ok:
                compressed = CompressedImage(format="jpeg", data=jpeg.tobytes())
                compressed.header.stamp, compressed.header.frame_id = stamp, self._frame_id
                self._compressed.publish(compressed)
        self._frames += 1

    # -- diagnostics --------------------------------------------------------------------
    def _set_status(self, level: Level, message: str) -> None:
        changed = level != self._status.level
        self._status = Status(self._status.name, level, message, self._status.hardware_id)
        if changed:
            self._publish_diagnostics()

    def _publish_diagnostics(self) -> None:
        status = Status(self._status.name, self._status.level, self._status.message, self._status.hardware_id,
                        {"frames": str(self._frames), "frame_id": self._frame_id})
        array = DiagnosticArray(status=[diagnostic_status_msg(status)])
        array.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics.publish(array)

    def shutdown(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        self._source.close()


def main(args: list[str] | None = None) -> None:
    rclpy.init(args=args)
    node = CameraNode()
    spin_until_shutdown(node, threads=1, before_destroy=node.shutdown)
    if node.capture_failed:
        sys.exit(1)   # the launcher restarts the node


if __name__ == "__main__":
    main()
