"""Camera node: one process per camera (head_camera, wrist_camera), named after it.

Publishes, under the node's name (``~/``, so node ``head_camera`` gives ``/head_camera/...``):
  image_raw             sensor_msgs/Image (bgr8), stamped at capture, frame id from the URDF
  image_raw/compressed  sensor_msgs/CompressedImage (jpeg; encoded only while someone listens)
  camera_info           sensor_msgs/CameraInfo (pinhole from horizontal_fov_deg; no distortion)
  /diagnostics          diagnostic_msgs/DiagnosticArray: this camera's state, 1 Hz and on change

Parameters: embodied_ai.perception.config.CameraConfig (``source``: "sim" or an OpenCV source,
see embodied_ai.perception.camera). A capture thread (embodied_ai.perception.camera.CaptureLoop)
reads frames at ``rate_hz``; when the device cannot open or stops delivering, the error goes to
the log and /diagnostics, the device is released and reopened every ``reconnect_period_s``,
and the node stays up. In ``sim`` the frames are rendered from the latest /joint_states (so the
head camera follows head_pan/head_tilt and the wrist camera the right arm), with the objects
as the simulator reports them on sim/objects.
"""

from __future__ import annotations

import threading
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from embodied_interfaces.msg import SimObjects
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from embodied_ai.diagnostics import Level, Status
from embodied_ai.perception.camera import CameraSource, CaptureLoop, Frame, OpenCVCamera, simulated_camera
from embodied_ai.perception.config import CameraConfig
from embodied_ai.perception.images import encode_jpeg
from embodied_ai.perception.intrinsics import CameraIntrinsics
from embodied_ai.perception.status import ComponentStatus
from embodied_ai.robot.description import camera_frame
from embodied_ros.conversions import diagnostic_array_msg
from embodied_ros.kit.latest import JointPositions
from embodied_ros.kit.parameters import declare_parameters, descriptor
from embodied_ros.kit.qos import LATCHED, SENSOR_DATA, STATE
from embodied_ros.kit.spin import Component, Workers, run_standalone
from embodied_ros.vision import camera_info_msg, compressed_image_msg, image_msg, stamp_msg


class CameraNode(Node):
    def __init__(self, **node_options: Any) -> None:
        super().__init__("camera", **node_options)
        # Two defaults depend on the node: the camera is the node's name, the frame that camera's.
        fields = CameraConfig.model_fields
        camera = self.declare_parameter("camera", self.get_name(), descriptor("camera", fields["camera"])).value
        self.declare_parameter("frame_id", camera_frame(camera), descriptor("frame_id", fields["frame_id"]))
        self.config = config = declare_parameters(self, CameraConfig)
        self._intrinsics = CameraIntrinsics.from_fov(config.width, config.height, config.horizontal_fov_deg)
        self._image = self.create_publisher(Image, "~/image_raw", SENSOR_DATA)
        self._compressed = self.create_publisher(CompressedImage, "~/image_raw/compressed", SENSOR_DATA)
        self._info = self.create_publisher(CameraInfo, "~/camera_info", SENSOR_DATA)
        self._diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", STATE)
        status = ComponentStatus(f"camera: {config.camera}", Level.WARN, "starting", config.source, self._on_status)
        self._capture = CaptureLoop(self._make_source(), config.rate_hz, config.reconnect_period_s, status)
        self.create_timer(1.0, self._publish_diagnostics)
        self._stop = threading.Event()
        self.workers = Workers(self, self._stop.is_set)
        self._thread = self.workers.start("capture", "capture loop",
                                          lambda: self._capture.run(self._stop, self.context.ok, self._publish))

    def _make_source(self) -> CameraSource:
        config = self.config
        if config.source != "sim":
            return OpenCVCamera(config.source, config.width, config.height, round(config.rate_hz))
        joint_states = JointPositions(self)
        source, scene = simulated_camera(config.robot_description_file, config.hardware_config_file, self._intrinsics,
                                         config.frame_id, joint_states.positions)

        def on_objects(msg: SimObjects) -> None:
            scene.update(msg.ids, msg.holders, [(p.x, p.y) for p in msg.positions])
        self.create_subscription(SimObjects, "sim/objects", on_objects, LATCHED)
        return source

    # -- the capture thread's frames ------------------------------------------------------
    def _publish(self, frame: Frame) -> None:
        stamp, frame_id = stamp_msg(frame.stamp_ns), self.config.frame_id
        self._image.publish(image_msg(frame.image, stamp, frame_id))
        self._info.publish(camera_info_msg(self._intrinsics, stamp, frame_id))
        if self._compressed.get_subscription_count() > 0:
            jpeg = encode_jpeg(frame.image, self.config.jpeg_quality)
            if jpeg is not None:
                self._compressed.publish(compressed_image_msg(jpeg, stamp, frame_id))

    # -- diagnostics --------------------------------------------------------------------
    def _on_status(self, status: Status, level_changed: bool) -> None:
        if status.level is Level.ERROR:   # a lost or missing device: the loop retries
            self.get_logger().error(f"{status.message}; retrying in {self.config.reconnect_period_s:.0f} s",
                                    throttle_duration_sec=10.0)
        if level_changed:
            self._publish_diagnostics()

    def _publish_diagnostics(self) -> None:
        status = self._capture.status.with_values({"frames": str(self._capture.frames),
                                                   "frame_id": self.config.frame_id})
        self._diagnostics.publish(diagnostic_array_msg([status], self.get_clock().now().to_msg()))

    def shutdown(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        self._capture.source.close()


def component(**node_options: Any) -> Component:
    node = CameraNode(**node_options)
    return Component(node, stop=node.shutdown, workers=node.workers)


def main(args: list[str] | None = None) -> None:
    run_standalone(component, args)


if __name__ == "__main__":
    main()
