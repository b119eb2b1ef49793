"""The REST bridge's RobotGraph port over rclpy: action and service clients with timeouts,
and a cache of subscribed state (joint_states, hardware_state, diagnostics, cameras,
detections, router statistics) that HTTP reads cost nothing on the graph.

Called from the asyncio loop (uvicorn) while a MultiThreadedExecutor spins the node in its own
thread; rclpy futures are handed to asyncio with ``loop.call_soon_threadsafe``. An endpoint
whose server is not in the graph raises GraphUnavailable (HTTP 503 with its seed code). The
interfaces of capabilities that may not be built yet are imported optionally.

The expert registry, datasets and training are the experts node's (services list_experts ...
training_status, actions train_expert and retrain_router): the bridge converts shapes only.
Training progress of the goals it sent goes out on the WebSocket ``training`` channel; a job's
status is always read from the experts node (its status file), so it is right after the job
ended and after a restart of the bridge; stop cancels the job's goal by its id.
"""

from __future__ import annotations

import asyncio
import importlib
import io
import json
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
                                                ExpertPage, ExpertQuery, ExpertResize, ExpertSummary, ExpertUpdate)
from embodied_ai.bridge.schemas.training import (DatasetInfo, TrainingJob, TrainingStart, TrainingStatus,
                                                 TrainingStopped)
from embodied_ai.errors import EmbodiedError, ErrorCode
from embodied_ros.kit.action_client import ThreadSafeActionClient
from embodied_ros.kit.detections import decode_detections
from embodied_ros.kit.qos import STATE


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
TrainExpert = optional_interface("embodied_interfaces.action", "TrainExpert")
RetrainRouter = optional_interface("embodied_interfaces.action", "RetrainRouter")
ListExperts = optional_interface("embodied_interfaces.srv", "ListExperts")
GetExpert = optional_interface("embodied_interfaces.srv", "GetExpert")
CreateExpert = optional_interface("embodied_interfaces.srv", "CreateExpert")
UpdateExpert = optional_interface("embodied_interfaces.srv", "UpdateExpert")
DeleteExpert = optional_interface("embodied_interfaces.srv", "DeleteExpert")
RegisterDataset = optional_interface("embodied_interfaces.srv", "RegisterDataset")
GetTrainingStatus = optional_interface("embodied_interfaces.srv", "GetTrainingStatus")
CancelGoal = optional_interface("action_msgs.srv", "CancelGoal")

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
    registry_s = 30.0  # a registry service call (a delete may wait for an unload)
    dataset_s = 120.0  # validating and copying an upload of up to max_upload_mb
    job_start_s = 60.0  # a training goal's first feedback (the dataset is validated again)
    stop_s = 600.0  # a stopped job ends at its next step, after saving a checkpoint
    retrain_s = 600.0  # embedding every labelled prompt, then training the gate


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


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _numbers(text: str) -> dict[str, float | None]:
    """A JSON object's numeric entries (the registry's metrics and performance may hold notes)."""
    values = json.loads(text or "{}")
    return {k: float(v) for k, v in values.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
            and math.isfinite(v)}


def expert_summary(msg: Any) -> ExpertSummary:
    metrics, performance = _numbers(msg.metrics_json), _numbers(msg.performance_json)
    return ExpertSummary(
        id=msg.id, name=msg.name, domain=msg.domain, category=msg.category, status=msg.status,
        total_params=msg.total_params if msg.total_params >= 0 else None, quantization=msg.quantization or None,
        accuracy=metrics.get("accuracy", metrics.get("exact")),
        inference_speed=performance.get("inference_speed_tokens_per_sec"), total_calls=msg.total_calls,
        created_at=msg.created_at or None)


def expert_detail(msg: Any) -> ExpertDetail:
    return ExpertDetail(
        id=msg.id, name=msg.name, domain=msg.domain, category=msg.category, status=msg.status,
        config=json.loads(msg.config_json or "{}"), metrics=_numbers(msg.metrics_json),
        performance=_numbers(msg.performance_json),
        usage_stats={"total_calls": msg.total_calls, "last_used": msg.last_used or None},
        quantization=msg.quantization or None, total_params=msg.total_params if msg.total_params >= 0 else None,
        kind=msg.kind or None, current_version=msg.current_version, created_at=msg.created_at or None)


def training_progress(feedback: Any) -> dict[str, object]:
    return {"job_id": int(feedback.job_id), "status": feedback.status, "step": int(feedback.current_step),
            "total_steps": int(feedback.total_steps), "epoch": round(float(feedback.current_epoch), 3),
            "total_epochs": float(feedback.total_epochs), "loss": _finite(feedback.loss),
            "eta_seconds": _finite(feedback.eta_seconds), "log": feedback.log}


def detections_of(array: Any) -> list[Detection]:
    return [Detection(label=d.label, score=d.score, bbox=d.box, object_id=-1 if d.object_id is None else d.object_id)
            for d in decode_detections(array)]


class RosGraph:
    """RobotGraph over rclpy. ``node`` must be spun by an executor in another thread."""

    def __init__(self, node: Node, cameras: list[str]) -> None:
        self._node = node
        self._cameras = list(cameras)
        self._listeners: list[EventListener] = []
        self._lock = threading.Lock()
        group = ReentrantCallbackGroup()

        def action(kind: Any, name: str) -> ActionClient | None:
            return ThreadSafeActionClient(node, kind, name, callback_group=group) if kind is not None else None

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
        self._train = action(TrainExpert, "train_expert")
        self._retrain = action(RetrainRouter, "retrain_router")
        self._list_experts = service(ListExperts, "list_experts")
        self._get_expert = service(GetExpert, "get_expert")
        self._create_expert = service(CreateExpert, "create_expert")
        self._update_expert = service(UpdateExpert, "update_expert")
        self._delete_expert = service(DeleteExpert, "delete_expert")
        self._register_dataset = service(RegisterDataset, "register_dataset")
        self._training_status = service(GetTrainingStatus, "training_status")
        # The train_expert action's standard cancel service: stops a job by its goal id, also
        # one this bridge did not send (another client's, or from before a restart).
        self._cancel_training = service(CancelGoal, "train_expert/_action/cancel_goal")
        self._training_results: set[asyncio.Future] = set()  # keeps result waits alive

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

    # -- the expert registry, datasets and training (the experts node's) ----------------------
    async def _registry_call(self, client: Any, request: Any, endpoint: str, code: ErrorCode,
                             timeout: float = Timeouts.registry_s) -> Any:
        response = await self._call(client, request, timeout, endpoint, code, "the experts node is not running")
        self._check(response, code)
        return response

    async def list_experts(self, query: ExpertQuery) -> ExpertPage:
        request = ListExperts.Request(category=query.category or "", status=query.status or "",
                                      sort_by=query.sort_by, limit=query.limit, offset=query.offset) \
            if ListExperts else None
        response = await self._registry_call(self._list_experts, request, "list_experts", ErrorCode.EXPERT_NOT_READY)
        return ExpertPage(experts=[expert_summary(e) for e in response.experts], total=int(response.total),
                          limit=query.limit, offset=query.offset)

    async def get_expert(self, expert_id: str) -> ExpertDetail:
        request = GetExpert.Request(expert=expert_id) if GetExpert else None
        response = await self._registry_call(self._get_expert, request, "get_expert", ErrorCode.EXPERT_NOT_READY)
        return expert_detail(response.expert)

    async def create_expert(self, spec: ExpertCreate) -> ExpertCreated:
        request = CreateExpert.Request(
            name=spec.name, domain=spec.domain, category=spec.category, size=spec.size or "",
            d_model=spec.d_model or 0, n_layers=spec.n_layers or 0, n_heads=spec.n_heads or 0,
            quantization=spec.quantization, base_model=spec.base_model or "") if CreateExpert else None
        response = await self._registry_call(self._create_expert, request, "create_expert",
                                             ErrorCode.EXPERT_CREATION_FAILED)
        expert = response.expert
        return ExpertCreated(
            expert_id=expert.id, status=expert.status, estimated_size_gb=_finite(response.estimated_size_gb),
            message=f"expert '{expert.name}' created; upload a dataset (POST /v1/datasets/upload) and start "
                    "training (POST /v1/training/start) to give it a first version")

    async def update_expert(self, expert_id: str, changes: ExpertUpdate) -> ExpertDetail:
        request = UpdateExpert.Request(expert=expert_id, domain=changes.domain or "", category=changes.category or "",
                                       status=changes.status or "") if UpdateExpert else None
        response = await self._registry_call(self._update_expert, request, "update_expert",
                                             ErrorCode.EXPERT_NOT_READY)
        return expert_detail(response.expert)

    async def delete_expert(self, expert_id: str, hard_delete: bool) -> ExpertDeleted:
        request = DeleteExpert.Request(expert=expert_id, hard_delete=hard_delete) if DeleteExpert else None
        response = await self._registry_call(self._delete_expert, request, "delete_expert",
                                             ErrorCode.EXPERT_NOT_READY)
        return ExpertDeleted(expert_id=int(response.expert_id), hard_delete=hard_delete, status=response.status)

    async def register_dataset(self, path: Path, expert_id: str, name: str) -> DatasetInfo:
        request = RegisterDataset.Request(path=str(path), expert=expert_id, name=name) if RegisterDataset else None
        response = await self._registry_call(self._register_dataset, request, "register_dataset",
                                             ErrorCode.TRAINING_FAILED, Timeouts.dataset_s)
        return DatasetInfo(dataset_id=int(response.dataset_id), num_samples=int(response.num_samples),
                           size_mb=round(float(response.size_mb), 6), status=response.status,
                           invalid_rows=int(response.invalid_rows),
                           duplicates_removed=int(response.duplicates_removed), row_errors=list(response.row_errors))

    async def _start_job(self, goal: Any) -> tuple[Any, Any]:
        """Send a train_expert goal; returns (its first feedback, the goal handle) once the job
        runs. Later feedback and the result go out as ``training`` events."""
        loop = asyncio.get_running_loop()
        first: asyncio.Future = loop.create_future()
        last_epoch = [0]

        def on_feedback(message: Any) -> None:
            feedback = message.feedback
            loop.call_soon_threadsafe(lambda: first.done() or first.set_result(feedback))
            progress = training_progress(feedback)
            self._emit("training", "progress", progress)
            epoch = int(feedback.current_epoch + 1e-6)
            if epoch > last_epoch[0]:  # the seed's event: an epoch ended
                last_epoch[0] = epoch
                self._emit("training", "epoch_completed", {"job_id": progress["job_id"], "epoch": epoch,
                                                           "loss": progress["loss"]})

        handle = await self._send_goal(self._train, goal, "train_expert", ErrorCode.TRAINING_FAILED,
                                       "the experts node is not running", on_feedback)
        result = to_asyncio(handle.get_result_async(), loop)
        done, _ = await asyncio.wait({first, result}, timeout=Timeouts.job_start_s,
                                     return_when=asyncio.FIRST_COMPLETED)
        if not done:
            raise GraphTimeout(f"train_expert sent no progress within {Timeouts.job_start_s:.0f} s")
        if first not in done:  # refused before it started (unknown expert, bad dataset, busy)
            ended = result.result().result
            self._check(ended, ErrorCode.TRAINING_FAILED)
            self._on_training_result(result)
            # Finished before its first feedback reached us: the result says as much.
            return TrainExpert.Feedback(job_id=ended.job_id, status=ended.status, eta_seconds=0.0), handle
        self._training_results.add(result)
        result.add_done_callback(self._on_training_result)
        return first.result(), handle

    def _on_training_result(self, future: asyncio.Future) -> None:
        self._training_results.discard(future)
        if future.cancelled() or future.exception() is not None:
            return
        result = future.result().result
        self._emit("training", result.status or "failed", {
            "job_id": int(result.job_id), "status": result.status, "version": int(result.version) or None,
            "checkpoint_saved": bool(result.checkpoint_saved), "code": int(result.error_code),
            "message": result.message})

    async def start_training(self, spec: TrainingStart) -> TrainingJob:
        goal = TrainExpert.Goal(
            expert=str(spec.expert_id), dataset_id=spec.dataset_id, learning_rate=spec.learning_rate,
            batch_size=spec.batch_size, num_epochs=float(spec.num_epochs), warmup_steps=spec.warmup_steps,
            gradient_accumulation=spec.gradient_accumulation, use_lora=spec.use_lora,
            lora_rank=spec.lora_rank) if TrainExpert else None
        feedback, _ = await self._start_job(goal)
        eta = _finite(feedback.eta_seconds)
        return TrainingJob(job_id=int(feedback.job_id), status=feedback.status,
                           estimated_time_hours=round(eta / 3600, 4) if eta is not None else None)

    async def resize_expert(self, expert_id: str, size: ExpertResize) -> ExpertCreated:
        expert = await self.get_expert(expert_id)  # 404 before any job is made
        goal = TrainExpert.Goal(expert=str(expert.id), use_lora=False, d_model=size.d_model, n_layers=size.n_layers,
                                n_heads=size.n_heads) if TrainExpert else None
        feedback, _ = await self._start_job(goal)
        return ExpertCreated(
            expert_id=expert.id, status="training", job_id=int(feedback.job_id),
            message=f"training job {feedback.job_id} trains a new version of '{expert.name}' from scratch at "
                    f"d_model {size.d_model}, n_layers {size.n_layers}, n_heads {size.n_heads} on its latest "
                    f"dataset; follow it at /v1/training/{feedback.job_id}/status")

    async def _job(self, job_id: int) -> Any:
        request = GetTrainingStatus.Request(job_id=job_id) if GetTrainingStatus else None
        return await self._registry_call(self._training_status, request, "training_status", ErrorCode.TRAINING_FAILED)

    async def training_status(self, job_id: int) -> TrainingStatus:
        s = await self._job(job_id)
        return TrainingStatus(
            job_id=job_id, status=s.status, current_epoch=math.ceil(s.current_epoch - 1e-6) if s.current_step else 0,
            total_epochs=math.ceil(s.total_epochs - 1e-6), current_loss=_finite(s.current_loss),
            best_loss=_finite(s.best_loss), train_loss=[float(v) for v in s.train_loss],
            val_loss=[float(v) for v in s.val_loss],
            eta_hours=round(s.eta_seconds / 3600, 4) if math.isfinite(s.eta_seconds) else None,
            recent_logs=list(s.recent_logs), expert=s.expert, current_step=int(s.current_step),
            total_steps=int(s.total_steps), checkpoint_saved=bool(s.checkpoint_saved), version=int(s.version) or None,
            error=s.error or None)

    async def stop_training(self, job_id: int) -> TrainingStopped:
        job = await self._job(job_id)
        if not job.active or job.status not in ("queued", "running", "stopping"):
            raise EmbodiedError(f"training job {job_id} is {job.status}; only a running job stops",
                                ErrorCode.TRAINING_FAILED)
        request = CancelGoal.Request()
        request.goal_info.goal_id.uuid = list(job.goal_id)
        response = await self._call(self._cancel_training, request, Timeouts.trigger_s,
                                    "train_expert/_action/cancel_goal", ErrorCode.TRAINING_FAILED,
                                    "the experts node is not running")
        if not response.goals_canceling:
            raise EmbodiedError(f"training job {job_id} could not be stopped (cancel answered "
                                f"{response.return_code})", ErrorCode.TRAINING_FAILED)
        deadline = time.monotonic() + Timeouts.stop_s
        while job.status in ("queued", "running", "stopping", "registering"):
            if time.monotonic() > deadline:
                raise GraphTimeout(f"training job {job_id} did not stop within {Timeouts.stop_s:.0f} s")
            await asyncio.sleep(0.5)
            job = await self._job(job_id)
        return TrainingStopped(status=job.status, checkpoint_saved=bool(job.checkpoint_saved))

    async def retrain_router(self, training_data: Path, num_epochs: int) -> str:
        goal = RetrainRouter.Goal(training_data_path=str(training_data), num_epochs=num_epochs) \
            if RetrainRouter else None
        self._emit("training", "router_retraining", {"training_data_path": training_data.name})
        result = await self._run_action(self._retrain, goal, Timeouts.retrain_s, "retrain_router",
                                        ErrorCode.TRAINING_FAILED, "the experts node's router is not running")
        self._check(result, ErrorCode.TRAINING_FAILED)
        self._emit("training", "router_retrained", {"gate_version": int(result.gate_version),
                                                    "experts": list(result.experts),
                                                    "validation_accuracy": _finite(result.validation_accuracy)})
        skipped = f"; rows left out: {'; '.join(result.row_errors)}" if result.row_errors else ""
        return f"{result.message}{skipped}"

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
