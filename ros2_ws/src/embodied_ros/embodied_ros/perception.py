"""Perception node: the tabletop detector on the head camera, with stable object ids.

Subscribes  <camera>/image_raw (sensor_msgs/Image), <camera>/camera_info, joint_states
Publishes   detections (embodied_interfaces/Detection2DArray: class, score, box, tracker id,
            and in results[0].pose the object's position on the table in base_link),
            perception/overlay (sensor_msgs/Image: the frame with boxes and ids; drawn only
            while someone listens), /diagnostics
Serves      detect (embodied_interfaces/Detect: one image in, detections out; no tracking), from a
            companion node ``<name>_detect`` with its own executor thread

The pipeline is embodied_ai.perception.pipeline.TwoStagePipeline: the image callback only
drops the serialised frame into its one-slot mailbox; a "prepare" thread takes the newest
frame, checks its age and preprocesses it, and an "inference" thread runs the model, the
tracker and the placement and hands the result back here to publish. A slow model drops stale
frames instead of queueing them, and the executor is never blocked. The model is loaded by the
prepare thread: a missing or corrupt file, or outputs that do not fit the manifest's family,
are reported in the log and /diagnostics and retried every ``model_retry_s`` while the node
keeps running. Frames of a wrong encoding or size are refused the same way, one by one.
Parameters: embodied_ai.perception.config.PerceptionConfig.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from embodied_interfaces.msg import Detection2DArray
from embodied_interfaces.srv import Detect
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from embodied_ai.diagnostics import Level, Status
from embodied_ai.errors import EmbodiedError
from embodied_ai.perception.config import PerceptionConfig
from embodied_ai.perception.intrinsics import CameraIntrinsics
from embodied_ai.perception.pipeline import Perceived, TwoStagePipeline, draw_overlay, load_perception
from embodied_ai.perception.status import ComponentStatus
from embodied_ai.robot import load_robot_description
from embodied_ai.robot.description import camera_frame
from embodied_ai.robot.kinematics import Kinematics
from embodied_ros.conversions import diagnostic_array_msg
from embodied_ros.kit.detections import detection_msg, detections_msg
from embodied_ros.kit.latest import JointPositions
from embodied_ros.kit.parameters import declare_parameters, read_parameters
from embodied_ros.kit.qos import SENSOR_DATA, STATE
from embodied_ros.kit.spin import Component, Workers, run_standalone
from embodied_ros.vision import decode_image, image_from_msg, image_msg


class PerceptionNode(Node):
    def __init__(self, **node_options: Any) -> None:
        super().__init__("perception", **node_options)
        config = declare_parameters(self, PerceptionConfig)
        urdf = config.robot_description_file
        kinematics = Kinematics(load_robot_description(urdf).urdf) if urdf else None
        # The model is loaded with the parameters as they are then (a retry sees a `ros2 param set`).
        status = ComponentStatus("perception: detector", Level.WARN, "loading the model", camera_frame(config.camera),
                                 on_change=self._on_status)
        self.pipeline: TwoStagePipeline[bytes, Image] = TwoStagePipeline(
            lambda: load_perception(read_parameters(self, PerceptionConfig), kinematics), decode_image,
            image_from_msg, status, config.max_frame_age_s, config.model_retry_s)

        self._detections = self.create_publisher(Detection2DArray, "detections", STATE)
        self._overlay = self.create_publisher(Image, "perception/overlay", SENSOR_DATA)
        self._diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", STATE)
        # Frames are taken serialised and decoded only when the prepare stage picks one: a frame
        # replaced before it is used costs one copy of its bytes, not a Python Image message.
        self.create_subscription(Image, f"{config.camera}/image_raw", self.pipeline.frames.put, SENSOR_DATA, raw=True)
        self.create_subscription(CameraInfo, f"{config.camera}/camera_info", self._on_camera_info, SENSOR_DATA)
        joint_states = JointPositions(self)
        self.create_timer(1.0, self._publish_diagnostics)
        self._stop = threading.Event()
        self.workers = Workers(self, self._stop.is_set)
        stages: list[tuple[str, Callable[[], None]]] = [
            ("prepare", lambda: self.pipeline.run_prepare(self._stop, self.context.ok)),
            ("inference", lambda: self.pipeline.run_finish(self._stop, self.context.ok, joint_states.positions,
                                                           self._publish))]
        self._threads = [self.workers.start(name, "perception worker", stage) for name, stage in stages]

    # -- callbacks (executor threads; all short) ----------------------------------------
    def _on_camera_info(self, msg: CameraInfo) -> None:
        intrinsics = CameraIntrinsics.from_camera_info(msg.width, msg.height, msg.k)
        if intrinsics is not None:
            self.pipeline.set_intrinsics(intrinsics)

    def on_detect(self, request: Detect.Request, response: Detect.Response) -> Detect.Response:
        try:
            detections = self.pipeline.ready_detector().detect(image_from_msg(request.image))
        except EmbodiedError as exc:
            response.success, response.error_code, response.message = False, int(exc.code), str(exc)
            return response
        header = request.image.header
        response.detections = detections_msg(header, [detection_msg(d, header) for d in detections])
        response.success, response.message = True, f"{len(detections)} detections"
        return response

    # -- the inference thread's result ----------------------------------------------------
    def _publish(self, frame: Perceived[Image]) -> None:
        header = Header(stamp=frame.source.header.stamp, frame_id=frame.source.header.frame_id)
        self._detections.publish(detections_msg(header, [
            detection_msg(o.detection, header, o.object_id, o.position) for o in frame.objects]))
        if self._overlay.get_subscription_count() > 0:
            self._overlay.publish(image_msg(draw_overlay(frame.image, frame.objects), header.stamp, header.frame_id))

    # -- diagnostics --------------------------------------------------------------------
    def _on_status(self, status: Status, level_changed: bool) -> None:
        if status.level is not Level.OK:
            self.get_logger().error(status.message, throttle_duration_sec=10.0)
        elif level_changed:
            self.get_logger().info(f"detector ready: {status.message}")
        if level_changed:
            self._publish_diagnostics()

    def _publish_diagnostics(self) -> None:
        status = self.pipeline.status.with_values(self.pipeline.diagnostic_values())
        self._diagnostics.publish(diagnostic_array_msg([status], self.get_clock().now().to_msg()))

    def shutdown(self) -> None:
        self._stop.set()
        for worker in self._threads:
            worker.join(timeout=5.0)


def detect_service_node(node: PerceptionNode) -> Node:
    """The ``detect`` service on a companion node, spun by its own executor thread, so a detect
    call (one inference) never holds up the image callbacks. Single-threaded executors both: an
    rclpy MultiThreadedExecutor cost four times the CPU of the whole pipeline here, dispatching
    the 200 Hz /joint_states. The companion ignores the command line's ``__node`` remap (which
    would give it the main node's name) and takes its name and namespace from the main node."""
    companion = Node(f"{node.get_name()}_detect", namespace=node.get_namespace(), use_global_arguments=False)
    companion.create_service(Detect, "detect", node.on_detect)
    return companion


def component(**node_options: Any) -> Component:
    node = PerceptionNode(**node_options)
    # A failed stage ends the process (exit status 1) for a restart.
    return Component(node, stop=node.shutdown, workers=node.workers, companions=[detect_service_node(node)])


def main(args: list[str] | None = None) -> None:
    run_standalone(component, args)


if __name__ == "__main__":
    main()
