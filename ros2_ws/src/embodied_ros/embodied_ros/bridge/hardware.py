"""The hardware port over rclpy: the servo controller's move_joints and grasp actions and its
emergency stop services, and the latest joint_states, hardware_state, /diagnostics, camera
frames and detections (reads cost nothing on the graph)."""

from __future__ import annotations

import math
import time
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from embodied_interfaces.action import Grasp, MoveJoints
from embodied_interfaces.msg import Detection2DArray, HardwareState
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_srvs.srv import Trigger

from embodied_ai.bridge.ports.common import Detection
from embodied_ai.bridge.ports.hardware import (
    CameraFrame,
    CameraState,
    GraspOutcome,
    MoveOutcome,
    SensorSnapshot,
    TriggerOutcome,
)
from embodied_ai.bridge.settings import BridgeTimeouts
from embodied_ai.errors import EmbodiedError, ErrorCode, GraphUnavailable
from embodied_ai.perception.images import encode_jpeg
from embodied_ros.bridge.plumbing import Action, Events, Graph, Latest, Service, detections_of
from embodied_ros.kit.goal_client import Endpoint, check
from embodied_ros.kit.latest import LatestOnDemand
from embodied_ros.kit.qos import STATE
from embodied_ros.vision import image_from_msg

SERVO_CONTROLLER = "the servo controller is not running"
# The nodes behind the components, as launch/robot.yaml names them (their state while starting).
SERVO_NODE, SENSORS_NODE = "servo_controller", "sensors"


def controller(name: str) -> Endpoint:
    return Endpoint(name, ErrorCode.HARDWARE_ERROR, SERVO_CONTROLLER, server=SERVO_NODE)
STALE_JOINT_STATES_S = 2.0  # older than this, the servo controller is treated as gone
CAMERA_ACTIVE_S = 1.0  # a camera whose last frame is older is "stale"
JPEG_QUALITY = 80  # what the cameras' own compressed topic uses
DIAGNOSTICS_FRESH_S = 3.0  # the sensors node publishes /diagnostics at 1 Hz by default


class RosHardware:
    def __init__(self, graph: Graph, events: Events, cameras: list[str], timeouts: BridgeTimeouts) -> None:
        self._events, self._cameras, self._timeouts = events, list(cameras), timeouts
        self._graph = graph
        self._move = Action(graph, MoveJoints, controller("move_joints"))
        self._grasp = Action(graph, Grasp, controller("grasp"))
        self._estop = Service(graph, Trigger, controller("emergency_stop"))
        self._reset = Service(graph, Trigger, controller("reset_emergency_stop"))
        self._hardware, self._diagnostics = Latest(), Latest()
        # Fast or large topics are taken when a request needs them (kit.latest), so an idle
        # bridge costs nothing per message: joint_states (200 Hz) and the cameras' frames. A
        # camera encodes its JPEG topic only while someone subscribes to it, so the bridge reads
        # the raw frame and encodes a JPEG only when one is asked for.
        self._joint_states = LatestOnDemand(graph.node, JointState, "joint_states")
        self._detections = LatestOnDemand(graph.node, Detection2DArray, "detections")   # for camera frames only
        self._camera_info = {camera: LatestOnDemand(graph.node, CameraInfo, f"{camera}/camera_info")
                             for camera in self._cameras}
        self._camera_image = {camera: LatestOnDemand(graph.node, Image, f"{camera}/image_raw")
                              for camera in self._cameras}
        self._last_estop: bool | None = None
        graph.subscribe(HardwareState, "hardware_state", self._on_hardware_state, STATE)
        graph.subscribe(DiagnosticArray, "/diagnostics", self._diagnostics.set, STATE)

    def _on_hardware_state(self, msg: HardwareState) -> None:
        self._hardware.set(msg)
        for text in msg.events:
            self._events.emit("hardware", "safety_event", {"message": text})
        if msg.emergency_stop != self._last_estop:
            self._last_estop = msg.emergency_stop
            self._events.emit("hardware", "emergency_stop", {"latched": msg.emergency_stop,
                                                             "reason": msg.emergency_stop_reason})

    async def move_joints(self, positions: dict[str, float], duration_s: float | None,
                          relative: bool) -> MoveOutcome:
        timeout = duration_s + self._timeouts.move_margin_s if duration_s else self._timeouts.move_default_s
        started = time.perf_counter()
        result = check(await self._move.run(timeout, joint_names=list(positions), positions=list(positions.values()),
                                            duration=duration_s or 0.0, relative=relative), self._move.endpoint)
        return MoveOutcome(list(result.joint_names), list(result.positions), (time.perf_counter() - started) * 1e3)

    async def grasp(self, side: str, force: float, object_id: int) -> GraspOutcome:
        result = await self._grasp.run(self._timeouts.grasp_s, side=side, force=float(force), object_id=object_id)
        if result.error_code:
            # Only an error is an error: a grasp that ended without one (cancelled by a newer
            # command, say) answers with what it did, grasped or not, as the Robot API did.
            check(result, self._grasp.endpoint)
        return GraspOutcome(result.grasped, result.force_applied, int(result.time_ms))

    async def _trigger(self, service: Service) -> TriggerOutcome:
        response = await service.call(self._timeouts.trigger_s)
        if not response.success:
            raise EmbodiedError(response.message, ErrorCode.HARDWARE_ERROR)
        return TriggerOutcome(response.message)

    async def emergency_stop(self) -> TriggerOutcome:
        return await self._trigger(self._estop)

    async def reset_emergency_stop(self) -> TriggerOutcome:
        return await self._trigger(self._reset)

    def sensors(self) -> SensorSnapshot:
        joints, age = self._joint_states.take()
        hardware = self._hardware.msg
        if joints is None or hardware is None or age > STALE_JOINT_STATES_S:
            silent = "no joint states yet" if joints is None else f"no joint states for {age:.1f} s"
            raise GraphUnavailable("joint_states", ErrorCode.HARDWARE_ERROR,
                                   f"the servo controller is not publishing ({silent})")
        return SensorSnapshot(
            joint_positions=dict(zip(joints.name, joints.position)),
            joint_velocities=dict(zip(joints.name, joints.velocity)),
            forces=dict(zip(hardware.force_sensor_names, hardware.forces)),
            temperatures=dict(zip(hardware.joint_names, hardware.temperatures)),
            joint_faults={j: f for j, f in zip(hardware.joint_names, hardware.joint_faults) if f},
            cameras={camera: self._camera_state(camera) for camera in self._cameras},
            emergency_stop=hardware.emergency_stop, emergency_stop_reason=hardware.emergency_stop_reason,
            backend=hardware.backend, loop_rate_hz=hardware.loop_rate_hz, age_s=age)

    def _camera_state(self, camera: str) -> CameraState:
        age = self._camera_info[camera].take()[1]
        return "absent" if math.isinf(age) else "active" if age < CAMERA_ACTIVE_S else "stale"

    def camera_frame(self, camera: str) -> CameraFrame:
        latest = self._camera_image.get(camera)
        msg, age = latest.take() if latest is not None else (None, math.inf)
        jpeg = encode_jpeg(image_from_msg(msg), JPEG_QUALITY) if msg is not None and age <= CAMERA_ACTIVE_S else None
        if msg is None or jpeg is None:
            raise GraphUnavailable(f"{camera}/image_raw", ErrorCode.HARDWARE_ERROR, f"no recent frame from {camera}")
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        return CameraFrame(camera, jpeg, int(msg.width), int(msg.height), stamp, self._detections_in(msg))

    def _detections_in(self, frame: Any) -> list[Detection]:
        """Perception's latest detections, when they are recent and of this camera's frames."""
        detections, age = self._detections.take()
        if detections is None or age >= CAMERA_ACTIVE_S:
            return []
        if frame.header.frame_id and detections.header.frame_id != frame.header.frame_id:
            return []
        return detections_of(detections)

    def components(self) -> dict[str, str]:
        moving = self._joint_states.take()[1] <= STALE_JOINT_STATES_S and self._move.readiness() == "ok"
        state = self._graph.state
        return {
            "servo_controller": state(moving, SERVO_NODE),
            "sensors": state(self._diagnostics.age() <= DIAGNOSTICS_FRESH_S, SENSORS_NODE),
            # A camera node is named after its camera (launch/robot.yaml).
            **{camera: state(self._camera_state(camera) == "active", camera) for camera in self._cameras},
        }
