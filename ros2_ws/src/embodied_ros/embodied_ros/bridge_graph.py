"""The REST bridge's RobotGraph port over rclpy: action and service clients with timeouts,
and a cache of subscribed state (joint_states, hardware_state, diagnostics, cameras,
detections, router statistics) that HTTP reads cost nothing on the graph.

Called from the asyncio loop (uvicorn) while a MultiThreadedExecutor spins the node in its own
thread; rclpy futures are handed to asyncio with ``loop.call_soon_threadsafe``. An endpoint
whose server is not in the graph raises GraphUnavailable (HTTP 503 with its seed code). The
interfaces of capabilities that may not be built yet are imported optionally.
"""

from __future__ import annotations

import asyncio
import importlib
import io
import math
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from embodied_interfaces.action import Grasp, MoveJoints
from embodied_interfaces.msg import HardwareState
from rclpy.action import ActionClient
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.task import Future
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, JointState
from std_srvs.srv import Trigger

from embodied_ai.bridge.port import (CameraFrame, CommandOutcome, Detection, DetectOutcome, EventListener,
                                     GenerateChunk, GenerateEvent, GenerateOutcome, GenerateRequest,
                                     GraphEvent, GraphTimeout, GraphUnavailable, GraspOutcome, MoveOutcome,
                                     RouteOutcome, RouterStatistics, SensorSnapshot, SpeakOutcome,
                                     TranscribeOutcome, TriggerOutcome, seed_code)
from embodied_ai.bridge.schemas.experts import (ExpertCreate, ExpertCreated, ExpertDeleted, ExpertDetail,
                                                ExpertPage, ExpertQuery, ExpertResize, ExpertUpdate)
from embodied_ai.bridge.schemas.training import (DatasetInfo, TrainingJob, TrainingStart, TrainingStatus,
                                                 TrainingStopped)
from embodied_ai.errors import EmbodiedError, ErrorCode
from embodied_ros.qos import STATE


def optional_interface(module: str, name: str) -> Any:
    """An interface type another capability defines, or None while it is not built."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


Generate = optional_interface("embodied_interfaces.action", "Generate")
HandleCommand = optional_interface("embodied_interfaces.action", "HandleCommand")
Speak = optional_interface("embodied_interfaces.action", "Speak")
Transcribe = optional_interface("embodied_interfaces.action", "Transcribe")
Detect = optional_interface("embodied_interfaces.srv", "Detect")
Route = optional_interface("embodied_interfaces.srv", "Route")
Detection2DArray = optional_interface("embodied_interfaces.msg", "Detection2DArray")
RouterStatisticsMsg = optional_interface("embodied_interfaces.msg", "RouterStatistics")

# Latest-only state: keep one message; joint_states at 200 Hz need no history here.
LATEST = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
STALE_JOINT_STATES_S = 2.0  # older than this, the servo controller is treated as gone
CAMERA_ACTIVE_S = 1.0
DIAGNOSTICS_FRESH_S = 3.0
DISCOVERY_WAIT_S = 1.0  # how long a request waits for a server it has not discovered yet
GOAL_RESPONSE_S = 5.0


class Timeouts:
    trigger_s = 5.0
    move_margin_s = 10.0  # on top of the requested duration
    move_default_s = 30.0
    grasp_s = 30.0
    detect_s = 15.0
    transcribe_s = 120.0
    speak_s = 120.0
    command_s = 120.0
    generate_s = 300.0
    token_gap_s = 60.0  # longest silence between two streamed tokens
    route_s = 10.0


class Latest:
    """A message and when it arrived (monotonic)."""

    def __init__(self) -> None:
        self.msg: Any = None
        self.at = 0.0

    def set(self, msg: Any) -> None:
        self.msg, self.at = msg, time.monotonic()

    def age(self) -> float:
        return math.inf if self.msg is None else time.monotonic() - self.at


def _settle(aio: asyncio.Future, future: Future) -> None:
    if aio.done():
        return
    exception = future.exception()
    if exception is not None:
        aio.set_exception(exception)
    else:
        aio.set_result(future.result())


def to_asyncio(future: Future, loop: asyncio.AbstractEventLoop) -> asyncio.Future:
    aio = loop.create_future()
    future.add_done_callback(lambda f: loop.call_soon_threadsafe(_settle, aio, f))
    return aio


def image_msg(encoded: bytes) -> Image:
    """Decode a PNG/JPEG upload into the rgb8 image the detect service takes."""
    from PIL import Image as PilImage, UnidentifiedImageError

    try:
        with PilImage.open(io.BytesIO(encoded)) as picture:
            rgb = np.asarray(picture.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise EmbodiedError(f"the image could not be decoded: {exc}", ErrorCode.INFERENCE_FAILED) from exc
    msg = Image(height=rgb.shape[0], width=rgb.shape[1], encoding="rgb8", is_bigendian=0, step=rgb.shape[1] * 3)
    msg.data = rgb.tobytes()
    return msg


def detections_of(array: Any) -> list[Detection]:
    found = []
    for d in array.detections:
        best = d.results[0].hypothesis if d.results else None
        cx, cy, w, h = d.bbox.center.position.x, d.bbox.center.position.y, d.bbox.size_x, d.bbox.size_y
        found.append(Detection(label=best.class_id if best else "", score=float(best.score) if best else 0.0,
                               bbox=(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2),
                               object_id=int(d.id) if d.id.isdigit() else -1))
    return found


class RosGraph:
    """RobotGraph over rclpy. ``node`` must be spun by an executor in another thread."""

    def __init__(self, node: Node, cameras: list[str]) -> None:
        self._node = node
        self._cameras = list(cameras)
        self._listeners: list[EventListener] = []
        self._lock = threading.Lock()
        group = ReentrantCallbackGroup()

        def action(kind: Any, name: str) -> ActionClient | None:
            return ActionClient(node, kind, name, callback_group=group) if kind is not None else None

        def service(kind: Any, name: str) -> Any:
            return node.create_client(kind, name, callback_group=group) if kind is not None else None

        self._move = action(MoveJoints, "move_joints")
        self._grasp = action(Grasp, "grasp")
        self._generate = action(Generate, "generate")
        self._transcribe = action(Transcribe, "transcribe")
        self._speak = action(Speak, "speak")
        self._command = action(HandleCommand, "command")
        self._estop = service(Trigger, "emergency_stop")
        self._reset = service(Trigger, "reset_emergency_stop")
        self._detect = service(Detect, "detect")
        self._route = service(Route, "route")

        self._joint_states, self._hardware, self._diagnostics = Latest(), Latest(), Latest()
        self._router_stats, self._detections = Latest(), Latest()
        self._camera_info = {c: Latest() for c in self._cameras}
        self._camera_jpeg = {c: Latest() for c in self._cameras}
        self._last_estop: bool | None = None
        node.create_subscription(JointState, "joint_states", self._joint_states.set, LATEST, callback_group=group)
        node.create_subscription(HardwareState, "hardware_state", self._on_hardware_state, STATE,
                                 callback_group=group)
        node.create_subscription(DiagnosticArray, "/diagnostics", self._diagnostics.set, STATE, callback_group=group)
        for camera in self._cameras:
            node.create_subscription(CameraInfo, f"{camera}/camera_info", self._camera_info[camera].set,
                                     qos_profile_sensor_data, callback_group=group)
            node.create_subscription(CompressedImage, f"{camera}/image_raw/compressed",
                                     self._camera_jpeg[camera].set, qos_profile_sensor_data, callback_group=group)
        if Detection2DArray is not None:
            node.create_subscription(Detection2DArray, "detections", self._detections.set, qos_profile_sensor_data,
                                     callback_group=group)
        if RouterStatisticsMsg is not None:
            node.create_subscription(RouterStatisticsMsg, "router_statistics", self._on_router_statistics, STATE,
                                     callback_group=group)

    # -- events -----------------------------------------------------------------------------
    def subscribe(self, listener: EventListener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)
        return unsubscribe

    def _emit(self, channel: str, event: str, data: dict[str, object]) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(GraphEvent(channel, event, data))

    def _on_hardware_state(self, msg: HardwareState) -> None:
        self._hardware.set(msg)
        for text in msg.events:
            self._emit("hardware", "safety_event", {"message": text})
        if msg.emergency_stop != self._last_estop:
            self._last_estop = msg.emergency_stop
            self._emit("hardware", "emergency_stop", {"latched": msg.emergency_stop,
                                                      "reason": msg.emergency_stop_reason})

    def _on_router_statistics(self, msg: Any) -> None:
        self._router_stats.set(msg)
        self._emit("inference", "router_statistics", {
            "total_requests": int(msg.total_requests), "fallback_rate": float(msg.fallback_rate),
            "experts": list(msg.experts), "selections": [int(s) for s in msg.selections]})

    # -- plumbing -----------------------------------------------------------------------------
    @staticmethod
    async def _require(client: Any, endpoint: str, code: ErrorCode, why: str) -> None:
        """Wait briefly for discovery, then raise GraphUnavailable if the server is not there."""
        if client is None:
            raise GraphUnavailable(endpoint, code, f"{why}: its interface is not built in this install")
        ready = client.server_is_ready if isinstance(client, ActionClient) else client.service_is_ready
        deadline = time.monotonic() + DISCOVERY_WAIT_S
        while not ready():
            if time.monotonic() > deadline:
                raise GraphUnavailable(endpoint, code, why)
            await asyncio.sleep(0.05)

    @staticmethod
    async def _wait(future: Future, timeout: float, what: str) -> Any:
        aio = to_asyncio(future, asyncio.get_running_loop())
        try:
            return await asyncio.wait_for(aio, timeout)
        except TimeoutError as exc:
            raise GraphTimeout(f"{what} did not answer within {timeout:.0f} s") from exc

    async def _call(self, client: Any, request: Any, timeout: float, endpoint: str, code: ErrorCode,
                    why: str) -> Any:
        await self._require(client, endpoint, code, why)
        return await self._wait(client.call_async(request), timeout, endpoint)

    async def _send_goal(self, client: ActionClient, goal: Any, endpoint: str, code: ErrorCode, why: str,
                         feedback: Callable[[Any], None] | None = None) -> Any:
        await self._require(client, endpoint, code, why)
        handle = await self._wait(client.send_goal_async(goal, feedback_callback=feedback), GOAL_RESPONSE_S,
                                  f"{endpoint} goal")
        if not handle.accepted:
            raise GraphUnavailable(endpoint, code, f"{why}: it refused the goal (not active)")
        return handle

    async def _run_action(self, client: ActionClient, goal: Any, timeout: float, endpoint: str, code: ErrorCode,
                          why: str) -> Any:
        handle = await self._send_goal(client, goal, endpoint, code, why)
        try:
            response = await self._wait(handle.get_result_async(), timeout, endpoint)
        except BaseException:
            handle.cancel_goal_async()  # a timeout or a client that went away stops the work
            raise
        return response.result

    @staticmethod
    def _check(result: Any, default: ErrorCode) -> None:
        ok = result.success if hasattr(result, "success") else result.error_code == 0
        if not ok:
            # An empty result is what rclpy sends when the server's callback raised.
            raise EmbodiedError(result.message or "the server failed without a reason (see its log)",
                                seed_code(result.error_code, default))

    # -- hardware -----------------------------------------------------------------------------
    async def move_joints(self, positions: dict[str, float], duration_s: float | None,
                          relative: bool) -> MoveOutcome:
        goal = MoveJoints.Goal(joint_names=list(positions), positions=list(positions.values()),
                               duration=duration_s or 0.0, relative=relative)
        timeout = duration_s + Timeouts.move_margin_s if duration_s else Timeouts.move_default_s
        started = time.perf_counter()
        result = await self._run_action(self._move, goal, timeout, "move_joints", ErrorCode.HARDWARE_ERROR,
                                        "the servo controller is not running")
        self._check(result, ErrorCode.HARDWARE_ERROR)
        return MoveOutcome(list(result.joint_names), list(result.positions), (time.perf_counter() - started) * 1e3)

    async def grasp(self, side: str, force: float, object_id: int) -> GraspOutcome:
        goal = Grasp.Goal(side=side, force=float(force), object_id=object_id)
        result = await self._run_action(self._grasp, goal, Timeouts.grasp_s, "grasp", ErrorCode.HARDWARE_ERROR,
                                        "the servo controller is not running")
        if result.error_code:
            raise EmbodiedError(result.message, seed_code(result.error_code, ErrorCode.HARDWARE_ERROR))
        return GraspOutcome(result.grasped, result.force_applied, int(result.time_ms))

    async def _trigger(self, client: Any, endpoint: str) -> TriggerOutcome:
        response = await self._call(client, Trigger.Request(), Timeouts.trigger_s, endpoint,
                                    ErrorCode.HARDWARE_ERROR, "the servo controller is not running")
        if not response.success:
            raise EmbodiedError(response.message, ErrorCode.HARDWARE_ERROR)
        return TriggerOutcome(response.message)

    async def emergency_stop(self) -> TriggerOutcome:
        return await self._trigger(self._estop, "emergency_stop")

    async def reset_emergency_stop(self) -> TriggerOutcome:
        return await self._trigger(self._reset, "reset_emergency_stop")

    def sensors(self) -> SensorSnapshot:
        joints, hardware = self._joint_states.msg, self._hardware.msg
        age = self._joint_states.age()
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
            cameras={c: self._camera_state(c) for c in self._cameras},
            emergency_stop=hardware.emergency_stop, emergency_stop_reason=hardware.emergency_stop_reason,
            backend=hardware.backend, loop_rate_hz=hardware.loop_rate_hz, age_s=age)

    def _camera_state(self, camera: str) -> str:
        age = min(self._camera_info[camera].age(), self._camera_jpeg[camera].age())
        return "absent" if math.isinf(age) else "active" if age < CAMERA_ACTIVE_S else "stale"

    def camera_frame(self, camera: str) -> CameraFrame:
        latest = self._camera_jpeg.get(camera)
        if latest is None or latest.msg is None or latest.age() > CAMERA_ACTIVE_S:
            raise GraphUnavailable(f"{camera}/image_raw/compressed", ErrorCode.HARDWARE_ERROR,
                                   f"no recent frame from {camera}")
        msg, info = latest.msg, self._camera_info[camera].msg
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        found: list[Detection] = []
        detections = self._detections.msg
        if detections is not None and self._detections.age() < CAMERA_ACTIVE_S \
                and (not msg.header.frame_id or detections.header.frame_id == msg.header.frame_id):
            found = detections_of(detections)
        return CameraFrame(camera, bytes(msg.data), int(info.width) if info else 0, int(info.height) if info else 0,
                           stamp, found)

    # -- perception and speech ----------------------------------------------------------------
    async def detect(self, image: bytes) -> DetectOutcome:
        await self._require(self._detect, "detect", ErrorCode.INFERENCE_FAILED, "the perception node is not running")
        started = time.perf_counter()
        response = await self._call(self._detect, Detect.Request(image=image_msg(image)), Timeouts.detect_s,
                                    "detect", ErrorCode.INFERENCE_FAILED, "the perception node is not running")
        self._check(response, ErrorCode.INFERENCE_FAILED)
        return DetectOutcome(detections_of(response.detections), (time.perf_counter() - started) * 1e3)

    async def transcribe(self, audio: bytes, language: str) -> TranscribeOutcome:
        goal = Transcribe.Goal(encoded_audio=audio, language=language) if Transcribe else None
        result = await self._run_action(self._transcribe, goal, Timeouts.transcribe_s, "transcribe",
                                        ErrorCode.INFERENCE_FAILED, "the speech recognition (asr) node is not running")
        self._check(result, ErrorCode.INFERENCE_FAILED)
        return TranscribeOutcome(result.text, result.language, float(result.confidence), float(result.duration_s))

    async def synthesize(self, text: str, speed: float) -> SpeakOutcome:
        goal = Speak.Goal(text=text, speed=float(speed), play=False) if Speak else None
        result = await self._run_action(self._speak, goal, Timeouts.speak_s, "speak", ErrorCode.INFERENCE_FAILED,
                                        "the text-to-speech (tts) node is not running")
        self._check(result, ErrorCode.INFERENCE_FAILED)
        return SpeakOutcome(bytes(result.wav), float(result.duration_s))

    async def handle_command(self, text: str) -> CommandOutcome:
        goal = HandleCommand.Goal(text=text, source="text") if HandleCommand else None
        result = await self._run_action(self._command, goal, Timeouts.command_s, "command",
                                        ErrorCode.EXPERT_NOT_READY, "the commander node is not running")
        return CommandOutcome(result.success, result.error_code, result.message, result.reply, result.actions_json,
                              result.expert)

    # -- experts ------------------------------------------------------------------------------
    def _generate_goal(self, request: GenerateRequest) -> Any:
        if Generate is None:
            return None
        return Generate.Goal(prompt=request.prompt, expert=request.expert, system=request.system,
                             max_tokens=request.max_tokens, temperature=request.temperature, top_p=request.top_p,
                             stop=list(request.stop))

    @staticmethod
    def _generate_outcome(result: Any, started: float) -> GenerateOutcome:
        RosGraph._check(result, ErrorCode.INFERENCE_FAILED)
        return GenerateOutcome(
            text=result.text, expert=result.expert, route_confidence=float(result.route_confidence),
            routed_to_fallback=result.routed_to_fallback, finish_reason=result.finish_reason or "stop",
            prompt_tokens=int(result.prompt_tokens), completion_tokens=int(result.completion_tokens),
            time_to_first_token_ms=float(result.time_to_first_token_ms),
            tokens_per_second=float(result.tokens_per_second),
            inference_time_ms=(time.perf_counter() - started) * 1e3)

    async def generate(self, request: GenerateRequest) -> GenerateOutcome:
        started = time.perf_counter()
        result = await self._run_action(self._generate, self._generate_goal(request), Timeouts.generate_s,
                                        "generate", ErrorCode.EXPERT_NOT_READY, "the experts node is not running")
        return self._generate_outcome(result, started)

    async def generate_stream(self, request: GenerateRequest) -> AsyncIterator[GenerateEvent]:
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[GenerateChunk] = asyncio.Queue()

        def on_feedback(message: Any) -> None:
            chunk = GenerateChunk(message.feedback.text, int(message.feedback.completion_tokens))
            loop.call_soon_threadsafe(chunks.put_nowait, chunk)

        started = time.perf_counter()
        handle = await self._send_goal(self._generate, self._generate_goal(request), "generate",
                                       ErrorCode.EXPERT_NOT_READY, "the experts node is not running", on_feedback)
        result = to_asyncio(handle.get_result_async(), loop)
        finished = False
        try:
            while True:
                next_chunk = asyncio.ensure_future(chunks.get())
                done, _ = await asyncio.wait({next_chunk, result}, timeout=Timeouts.token_gap_s,
                                             return_when=asyncio.FIRST_COMPLETED)
                if next_chunk in done:
                    yield next_chunk.result()
                    continue
                next_chunk.cancel()
                if not done:
                    raise GraphTimeout(f"generate sent nothing for {Timeouts.token_gap_s:.0f} s")
                # Feedback delivered before the result is already queued: flush it first.
                while not chunks.empty():
                    yield chunks.get_nowait()
                finished = True
                yield self._generate_outcome(result.result().result, started)
                return
        finally:
            if not finished:
                handle.cancel_goal_async()

    async def route(self, prompt: str) -> RouteOutcome:
        response = await self._call(self._route, Route.Request(prompt=prompt) if Route else None, Timeouts.route_s,
                                    "route", ErrorCode.EXPERT_NOT_READY, "the experts node's router is not running")
        self._check(response, ErrorCode.INFERENCE_FAILED)
        return RouteOutcome(response.expert, float(response.confidence), response.fallback,
                            list(response.candidates), [float(s) for s in response.scores])

    def router_statistics(self) -> RouterStatistics:
        msg = self._router_stats.msg
        if msg is None:
            raise GraphUnavailable("router_statistics", ErrorCode.EXPERT_NOT_READY,
                                   "the experts node has not published router statistics")
        return RouterStatistics(int(msg.total_requests), float(msg.fallback_rate), list(msg.experts),
                                [int(s) for s in msg.selections], [float(c) for c in msg.average_confidence],
                                [float(a) for a in msg.feedback_accuracy], list(msg.issues), self._router_stats.age())

    # The experts node keeps its registry, datasets and training jobs to itself for now: no
    # ROS interface reaches them yet, so these answer 503 with the seed's code, never made up.
    @staticmethod
    def _registry_unavailable(what: str, code: ErrorCode = ErrorCode.EXPERT_NOT_READY) -> GraphUnavailable:
        return GraphUnavailable(f"experts/{what}", code,
                                f"the experts node does not expose its {what} over ROS yet (issue 5)")

    async def retrain_router(self, training_data: Path, num_epochs: int) -> str:
        raise self._registry_unavailable("router retraining", ErrorCode.TRAINING_FAILED)

    async def list_experts(self, query: ExpertQuery) -> ExpertPage:
        raise self._registry_unavailable("registry")

    async def get_expert(self, expert_id: str) -> ExpertDetail:
        raise self._registry_unavailable("registry")

    async def create_expert(self, spec: ExpertCreate) -> ExpertCreated:
        raise self._registry_unavailable("registry", ErrorCode.EXPERT_CREATION_FAILED)

    async def update_expert(self, expert_id: str, changes: ExpertUpdate) -> ExpertDetail:
        raise self._registry_unavailable("registry")

    async def delete_expert(self, expert_id: str, hard_delete: bool) -> ExpertDeleted:
        raise self._registry_unavailable("registry")

    async def resize_expert(self, expert_id: str, size: ExpertResize) -> ExpertCreated:
        raise self._registry_unavailable("registry", ErrorCode.EXPERT_CREATION_FAILED)

    async def register_dataset(self, path: Path, expert_id: str, name: str) -> DatasetInfo:
        raise self._registry_unavailable("datasets", ErrorCode.TRAINING_FAILED)

    async def start_training(self, spec: TrainingStart) -> TrainingJob:
        raise self._registry_unavailable("training jobs", ErrorCode.TRAINING_FAILED)

    async def training_status(self, job_id: int) -> TrainingStatus:
        raise self._registry_unavailable("training jobs", ErrorCode.TRAINING_FAILED)

    async def stop_training(self, job_id: int) -> TrainingStopped:
        raise self._registry_unavailable("training jobs", ErrorCode.TRAINING_FAILED)

    # -- introspection --------------------------------------------------------------------------
    def components(self) -> dict[str, str]:
        def ready(client: Any) -> str:
            if client is None:
                return "not built"
            up = client.server_is_ready() if isinstance(client, ActionClient) else client.service_is_ready()
            return "ok" if up else "unavailable"

        controller = "ok" if self._joint_states.age() <= STALE_JOINT_STATES_S and ready(self._move) == "ok" \
            else "unavailable"
        return {
            "ros_graph": "ok",
            "servo_controller": controller,
            "sensors": "ok" if self._diagnostics.age() <= DIAGNOSTICS_FRESH_S else "unavailable",
            **{camera: "ok" if self._camera_state(camera) == "active" else "unavailable" for camera in self._cameras},
            "perception": ready(self._detect),
            "speech_recognition": ready(self._transcribe),
            "speech_synthesis": ready(self._speak),
            "commander": ready(self._command),
            "experts": ready(self._generate),
            "router": ready(self._route),
        }
