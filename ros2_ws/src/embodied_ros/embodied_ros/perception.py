"""Perception node: the tabletop detector on the head camera, with stable object ids.

Subscribes  <camera>/image_raw (sensor_msgs/Image), <camera>/camera_info, joint_states
Publishes   detections (embodied_interfaces/Detection2DArray: class, score, box, tracker id,
            and in results[0].pose the object's position on the table in base_link),
            perception/overlay (sensor_msgs/Image: the frame with boxes and ids; drawn only
            while someone listens), /diagnostics
Serves      detect (embodied_interfaces/Detect: one image in, detections out; no tracking), from a
            companion node ``<name>_detect`` with its own executor thread

The image callback only drops the frame into a one-slot mailbox (embodied_ai.perception.
pipeline.LatestFrame); a "prepare" thread takes the newest frame whenever it is free, checks
and preprocesses it and hands it, through a second one-slot mailbox, to an "inference"
thread (inference, decoding, tracking, publishing). A slow model drops stale frames instead
of queueing them, the model never waits for preprocessing, and the executor is never
blocked. The model is loaded by the prepare thread: a missing or corrupt file, or outputs that do not fit
the manifest's family, are reported in the log and /diagnostics and retried every
``model_retry_s`` while the node keeps running. Frames of a wrong encoding or size are
refused the same way, one by one.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

import cv2
import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from embodied_interfaces.msg import Detection2DArray
from embodied_interfaces.srv import Detect
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from embodied_ai.diagnostics import Level, Status
from embodied_ai.errors import EmbodiedError, ErrorCode
from embodied_ai.perception.detector import Detector
from embodied_ai.perception.pipeline import LatestFrame, PerceivedObject, Perception, PreparedFrame
from embodied_ai.perception.render import CameraIntrinsics
from embodied_ai.perception.tracker import IouTracker
from embodied_ai.robot import load_robot_description
from embodied_ai.robot.description import CAMERA_FRAMES
from embodied_ai.robot.kinematics import Kinematics
from embodied_ros.conversions import diagnostic_status_msg
from embodied_ros.kit.qos import SENSOR_DATA, STATE
from embodied_ros.kit.spin import run_worker
from embodied_ros.kit.detections import detection_msg, detections_msg
from embodied_ros.vision import LatestJointState, image_from_msg, image_msg

OVERLAY_COLOURS = [(0, 200, 255), (255, 120, 0), (0, 220, 0), (220, 0, 220), (0, 0, 255), (255, 255, 0)]


def draw_overlay(image: np.ndarray, objects: list[PerceivedObject]) -> np.ndarray:
    out = image.copy()
    for obj in objects:
        x1, y1, x2, y2 = (int(round(v)) for v in obj.detection.box)
        colour = OVERLAY_COLOURS[obj.detection.class_id % len(OVERLAY_COLOURS)]
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, 2)
        label = f"{obj.object_id} {obj.detection.label} {obj.detection.score:.2f}"
        cv2.putText(out, label, (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)
    return out


class PerceptionNode(Node):
    def __init__(self) -> None:
        super().__init__("perception")
        self.declare_parameter("model_manifest", "")
        self.declare_parameter("model_variant", "")          # "" = the manifest's default
        self.declare_parameter("backend", "onnxruntime")     # or "tensorrt" (needs tensorrt + pycuda)
        self.declare_parameter("providers", [""])            # e.g. ["CPUExecutionProvider"]; empty = best available
        self.declare_parameter("intra_op_threads", 0)
        self.declare_parameter("camera", "head_camera")
        self.declare_parameter("robot_description_file", "")
        self.declare_parameter("support_z_m", 0.30)
        self.declare_parameter("centre_height_m", 0.03)
        self.declare_parameter("max_frame_age_s", 1.0)
        self.declare_parameter("model_retry_s", 5.0)
        camera = str(self.get_parameter("camera").value)
        self._camera_link = CAMERA_FRAMES.get(camera, f"{camera}_optical_frame")
        self._max_age_ns = int(float(self.get_parameter("max_frame_age_s").value) * 1e9)
        self._retry_s = float(self.get_parameter("model_retry_s").value)
        urdf_file = str(self.get_parameter("robot_description_file").value)
        self._kinematics = Kinematics(load_robot_description(urdf_file).urdf) if urdf_file else None
        self._perception: Perception | None = None
        # Frames are taken serialised and decoded only when the prepare stage picks one: a frame
        # replaced before it is used costs one copy of its bytes, not a Python Image message.
        self._mailbox: LatestFrame[bytes] = LatestFrame()
        self._intrinsics: CameraIntrinsics | None = None
        self._status = Status("perception: detector", Level.WARN, "loading the model")
        self._stats = {"processed": 0, "refused": 0, "stale": 0, "prepared_to_published_ms": 0.0}

        self._detections = self.create_publisher(Detection2DArray, "detections", STATE)
        self._overlay = self.create_publisher(Image, "perception/overlay", SENSOR_DATA)
        self._diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", STATE)
        self.create_subscription(Image, f"{camera}/image_raw", self._mailbox.put, SENSOR_DATA, raw=True)
        self.create_subscription(CameraInfo, f"{camera}/camera_info", self._on_camera_info, SENSOR_DATA)
        self._joint_states = LatestJointState(self, STATE)
        self.create_timer(1.0, self._publish_diagnostics)
        # Two stages on two threads, each handing over only its newest result (see the docstring).
        self._prepared: LatestFrame[tuple[Header, PreparedFrame, float]] = LatestFrame()
        self._stop = threading.Event()
        self.worker_failed = False
        self._workers = [threading.Thread(target=self._guarded(stage), name=name, daemon=True)
                         for name, stage in (("prepare", self._prepare_stage), ("inference", self._inference_stage))]
        for worker in self._workers:
            worker.start()

    # -- callbacks (executor threads; all short) ----------------------------------------
    def _on_camera_info(self, msg: CameraInfo) -> None:
        k = msg.k
        if msg.width and msg.height and k[0] > 0 and k[4] > 0:
            self._intrinsics = CameraIntrinsics(msg.width, msg.height, k[0], k[4], k[2], k[5])
            if self._perception is not None:
                self._perception.intrinsics = self._intrinsics

    def _on_detect(self, request: Detect.Request, response: Detect.Response) -> Detect.Response:
        perception = self._perception
        if perception is None:
            response.success, response.error_code = False, int(ErrorCode.INFERENCE_FAILED)
            response.message = f"no model loaded: {self._status.message}"
            return response
        try:
            detections = perception.detector.detect(image_from_msg(request.image))
        except EmbodiedError as exc:
            response.success, response.error_code, response.message = False, int(exc.code), str(exc)
            return response
        header = request.image.header
        response.detections = detections_msg(header, [detection_msg(d, header) for d in detections])
        response.success, response.message = True, f"{len(detections)} detections"
        return response

    # -- the two worker threads ---------------------------------------------------------
    def _guarded(self, stage: Callable[[], None]) -> Callable[[], None]:
        return lambda: run_worker(self, "perception worker", stage, self._record_failure, self._stop.is_set)

    def _record_failure(self) -> None:
        self.worker_failed = True

    def _prepare_stage(self) -> None:
        """Newest image → checked, decoded, preprocessed frame for the inference stage."""
        while not self._stop.is_set() and self.context.ok():
            perception = self._perception
            if perception is None and not self._load_model():
                self._stop.wait(self._retry_s)
                continue
            serialised = self._mailbox.take(timeout=0.5)
            if serialised is None or perception is None:
                continue
            msg = deserialize_message(serialised, Image)
            stamp_ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
            if time.time_ns() - stamp_ns > self._max_age_ns:
                self._stats["stale"] += 1     # e.g. frames that waited out a model load
                continue
            try:
                prepared = perception.prepare(image_from_msg(msg))
            except EmbodiedError as exc:
                self._stats["refused"] += 1
                self.get_logger().error(f"frame refused: {exc}", throttle_duration_sec=10.0)
                self._set_status(Level.WARN, f"frame refused: {exc}")
                continue
            self._prepared.put((msg.header, prepared, time.perf_counter()))

    def _inference_stage(self) -> None:
        """Prepared frame → inference, tracking, placement → detections (and overlay) published."""
        while not self._stop.is_set() and self.context.ok():
            item = self._prepared.take(timeout=0.5)
            perception = self._perception
            if item is None or perception is None:
                continue
            image_header, prepared, started = item
            objects = perception.finish(prepared, self._joint_states.positions())
            header = Header(stamp=image_header.stamp, frame_id=image_header.frame_id)
            self._detections.publish(detections_msg(header, [
                detection_msg(o.detection, header, o.object_id, o.position) for o in objects]))
            if self._overlay.get_subscription_count() > 0:
                self._overlay.publish(image_msg(draw_overlay(prepared.image, objects), header.stamp, header.frame_id))
            self._stats["processed"] += 1
            self._stats["prepared_to_published_ms"] = (time.perf_counter() - started) * 1000
            if self._status.level != Level.OK:
                self._set_status(Level.OK, f"model '{perception.detector.manifest.name}' on {perception.detector.backend.name}")

    def _load_model(self) -> bool:
        manifest = str(self.get_parameter("model_manifest").value)
        variant = str(self.get_parameter("model_variant").value) or None
        providers = [p for p in self.get_parameter("providers").value if p]
        try:
            if not manifest:
                raise EmbodiedError("parameter model_manifest is empty", ErrorCode.INFERENCE_FAILED)
            detector = Detector.from_manifest(manifest, variant, str(self.get_parameter("backend").value), providers,
                                              int(self.get_parameter("intra_op_threads").value))
        except (EmbodiedError, ValueError, ImportError) as exc:
            self.get_logger().error(f"cannot load the detector: {exc}; retrying in {self._retry_s:.0f} s",
                                    throttle_duration_sec=30.0)
            self._set_status(Level.ERROR, f"model not loaded: {exc}")
            return False
        self._perception = Perception(detector, IouTracker(), self._kinematics, self._intrinsics, self._camera_link,
                                      float(self.get_parameter("support_z_m").value),
                                      float(self.get_parameter("centre_height_m").value))
        self._set_status(Level.OK, f"model '{detector.manifest.name}' on {detector.backend.name}")
        self.get_logger().info(f"detector ready: '{detector.manifest.name}' ({manifest}) on {detector.backend.name}")
        return True

    # -- diagnostics --------------------------------------------------------------------
    def _set_status(self, level: Level, message: str) -> None:
        changed = level != self._status.level
        self._status = Status(self._status.name, level, message)
        if changed:
            self._publish_diagnostics()

    def _publish_diagnostics(self) -> None:
        values = {key: f"{value:.1f}" if isinstance(value, float) else str(value) for key, value in self._stats.items()}
        values.update(received=str(self._mailbox.received), dropped_while_busy=str(self._mailbox.dropped))
        status = Status(self._status.name, self._status.level, self._status.message, self._camera_link, values)
        array = DiagnosticArray(status=[diagnostic_status_msg(status)])
        array.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics.publish(array)

    def shutdown(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=5.0)


def detect_service_node(node: PerceptionNode) -> Node:
    """The ``detect`` service on a companion node, spun by its own executor thread, so a detect
    call (one inference) never holds up the image callbacks. Single-threaded executors both: an
    rclpy MultiThreadedExecutor cost four times the CPU of the whole pipeline here, dispatching
    the 200 Hz /joint_states. The companion ignores the command line's ``__node`` remap (which
    would give it the main node's name) and takes its name and namespace from the main node."""
    companion = Node(f"{node.get_name()}_detect", namespace=node.get_namespace(), use_global_arguments=False)
    companion.create_service(Detect, "detect", node._on_detect)
    return companion


def main(args: list[str] | None = None) -> None:
    rclpy.init(args=args)
    node = PerceptionNode()
    companion = detect_service_node(node)
    executor, service_executor = SingleThreadedExecutor(), SingleThreadedExecutor()
    executor.add_node(node)
    service_executor.add_node(companion)
    service_thread = threading.Thread(target=service_executor.spin, name="detect_service", daemon=True)
    service_thread.start()
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.shutdown()
        service_executor.shutdown()
        service_thread.join(timeout=5.0)
        companion.destroy_node()
        node.destroy_node()
        rclpy.try_shutdown()
    if node.worker_failed:
        sys.exit(1)   # the launcher restarts the node


if __name__ == "__main__":
    main()
