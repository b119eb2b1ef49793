"""An in-memory robot graph behind the bridge's ports, for route tests without ROS.

One object plays every capability with plain Python state: joints that move where they are
told (within +-2 rad, as a controller would refuse beyond), a registry of experts and training
jobs, an echoing generator. ``fail(method, error)`` makes the next calls of a method raise
(GraphUnavailable for a missing node, GraphTimeout for a deadline, EmbodiedError for a refusal).
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncGenerator, Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from embodied_ai.bridge.ports import Ports
from embodied_ai.bridge.ports.common import Detection, EventListener, GraphEvent
from embodied_ai.bridge.ports.datasets import DatasetsPort
from embodied_ai.bridge.ports.experts import (
    ExpertChanges,
    ExpertCreated,
    ExpertDeleted,
    ExpertFilter,
    ExpertList,
    ExpertRecord,
    ExpertSpec,
    ModelShape,
    ResizeStarted,
    TrainingProgress,
    TrainingSpec,
    TrainingStarted,
    TrainingStopped,
)
from embodied_ai.bridge.ports.hardware import CameraFrame, GraspOutcome, MoveOutcome, SensorSnapshot, TriggerOutcome
from embodied_ai.bridge.ports.inference import (
    GenerateChunk,
    GenerateEvent,
    GenerateOutcome,
    GenerateRequest,
    RouteOutcome,
    RouterRetrained,
    RouterStatistics,
)
from embodied_ai.bridge.ports.jobs import JobsPort
from embodied_ai.bridge.ports.media import CommandOutcome, DetectOutcome, SpeakOutcome, TranscribeOutcome
from embodied_ai.bridge.ports.models import ModelsPort
from embodied_ai.bridge.ports.operations import OperationsPort
from embodied_ai.bridge.ports.webhooks import WebhooksPort
from embodied_ai.errors import EmbodiedError, ErrorCode, GraphUnavailable, SafetyViolation
from embodied_ai.perception.classifier import ClassScore, shared_classifier
from embodied_ai.perception.ocr import TextLine, read_text

JOINT_LIMIT_RAD = 2.0
CAMERAS = ("head_camera", "wrist_camera")
WAV_HEADER = b"RIFF\x24\x00\x00\x00WAVEfmt "


class FakeGraph:
    """Implements HardwarePort, MediaPort, InferencePort, ExpertsPort and GraphStatus."""

    def __init__(self, jobs: JobsPort | None = None, webhooks: WebhooksPort | None = None,
                 operations: OperationsPort | None = None, datasets: DatasetsPort | None = None) -> None:
        # A real job system, webhooks and logs store in this process (local_jobs.LocalJobs), not fakes;
        # the dataset registry is the one LocalJobs holds unless given (the jobs node serves both).
        self.job_system, self.webhooks, self.operations = jobs, webhooks, operations
        self.dataset_registry: DatasetsPort | None = datasets or getattr(jobs, "datasets", None)
        self.model_registry: ModelsPort | None = getattr(jobs, "models", None)   # LocalJobs holds it too
        self.failures: dict[str, EmbodiedError] = {}
        self.calls: list[tuple[str, object]] = []
        self.listeners: list[EventListener] = []
        self.joints = {"shoulder_pitch_r": 0.0, "elbow_pitch_r": 0.0, "gripper_r": 0.0}
        self.estop = False
        self.frames: dict[str, CameraFrame] = {}
        self.detections = [Detection("cup", 0.9, (10.0, 20.0, 30.0, 60.0), object_id=3)]
        self.experts: dict[int, ExpertRecord] = {}
        self.jobs: dict[int, TrainingProgress] = {}
        self.router_issues: list[str] = []
        self.retrain_row_errors: list[str] = []

    def ports(self) -> Ports:
        assert self.job_system and self.webhooks and self.operations and self.dataset_registry, \
            "FakeGraph(LocalJobs(...), ...)"
        assert self.model_registry, "FakeGraph(LocalJobs(...), ...)"
        return Ports(hardware=self, media=self, inference=self, experts=self, jobs=self.job_system,
                     webhooks=self.webhooks, operations=self.operations, datasets=self.dataset_registry,
                     models=self.model_registry, status=self)

    def fail(self, method: str, error: EmbodiedError) -> None:
        self.failures[method] = error

    def _enter(self, method: str, args: object = None) -> None:
        self.calls.append((method, args))
        if method in self.failures:
            raise self.failures[method]

    # -- status ------------------------------------------------------------------------------
    def components(self) -> dict[str, str]:
        self._enter("components")
        servo = "unavailable" if "sensors" in self.failures else "ok"
        return {"ros_graph": "ok", "servo_controller": servo, "sensors": "ok", "experts": "ok"}

    def subscribe(self, listener: EventListener) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def emit(self, channel: str, event: str, data: dict[str, object]) -> None:
        for listener in list(self.listeners):
            listener(GraphEvent(channel, event, data))

    # -- hardware ----------------------------------------------------------------------------
    async def move_joints(self, positions: dict[str, float], duration_s: float | None,
                          relative: bool) -> MoveOutcome:
        self._enter("move_joints", (positions, duration_s, relative))
        if self.estop:
            raise SafetyViolation("the emergency stop is latched")
        targets = {j: self.joints[j] + p if relative else p for j, p in positions.items()}
        for joint, target in targets.items():
            if joint not in self.joints:
                raise EmbodiedError(f"unknown joint {joint}", ErrorCode.HARDWARE_ERROR)
            if abs(target) > JOINT_LIMIT_RAD:
                raise SafetyViolation(f"{joint}: {target:.2f} rad is beyond its limit")
        self.joints.update(targets)
        return MoveOutcome(list(targets), list(targets.values()), 12.5)

    async def grasp(self, side: str, force: float, object_id: int) -> GraspOutcome:
        self._enter("grasp", (side, force, object_id))
        return GraspOutcome(grasped=True, force_applied=force, time_ms=300)

    async def emergency_stop(self) -> TriggerOutcome:
        self._enter("emergency_stop")
        self.estop = True
        self.emit("hardware", "emergency_stop", {"latched": True, "reason": "operator"})
        return TriggerOutcome("emergency stop latched")

    async def reset_emergency_stop(self) -> TriggerOutcome:
        self._enter("reset_emergency_stop")
        self.estop = False
        return TriggerOutcome("emergency stop released")

    def sensors(self) -> SensorSnapshot:
        self._enter("sensors")
        return SensorSnapshot(
            joint_positions=dict(self.joints), joint_velocities={j: 0.0 for j in self.joints},
            forces={"gripper_r": 0.5}, temperatures={"shoulder_pitch_r": 35.0, "elbow_pitch_r": math.nan},
            joint_faults={}, cameras={c: "active" if c in self.frames else "absent" for c in CAMERAS},
            emergency_stop=self.estop, emergency_stop_reason="operator" if self.estop else "", backend="sim",
            loop_rate_hz=200.0, age_s=0.004)

    def camera_frame(self, camera: str) -> CameraFrame:
        self._enter("camera_frame", camera)
        if camera not in self.frames:
            raise GraphUnavailable(f"{camera}/image_raw/compressed", ErrorCode.HARDWARE_ERROR,
                                   f"no recent frame from {camera}")
        return self.frames[camera]

    # -- media -------------------------------------------------------------------------------
    async def detect(self, image: bytes) -> DetectOutcome:
        self._enter("detect", len(image))
        return DetectOutcome(list(self.detections), 8.0)

    async def classify(self, image_rgb: np.ndarray, top_k: int) -> list[ClassScore]:
        """The real classifier, as the vision_services node runs it (BGR in)."""
        self._enter("classify", (image_rgb.shape, top_k))
        return shared_classifier().classify(np.ascontiguousarray(image_rgb[:, :, ::-1]), top_k)

    async def read_text(self, image_rgb: np.ndarray, min_confidence: float) -> list[TextLine]:
        """The real OCR, as the vision_services node runs it."""
        self._enter("read_text", (image_rgb.shape, min_confidence))
        return read_text(image_rgb, min_confidence)

    async def transcribe(self, audio: bytes, language: str) -> TranscribeOutcome:
        self._enter("transcribe", (len(audio), language))
        return TranscribeOutcome("wave your right hand", language or "en", 0.93, 1.5)

    async def synthesize(self, text: str, speed: float) -> SpeakOutcome:
        self._enter("synthesize", (text, speed))
        return SpeakOutcome(WAV_HEADER + text.encode(), 0.25 * len(text.split()) / speed)

    async def handle_command(self, text: str) -> CommandOutcome:
        self._enter("handle_command", text)
        if text.startswith("wave"):
            actions = [{"action": "wave", "side": "r"}]
            return CommandOutcome(True, 0, "", "Waving.", json.dumps(actions), "robot_control")
        if text.startswith("fly"):
            return CommandOutcome(False, int(ErrorCode.SAFETY_VIOLATION), "the robot cannot fly", "", "[]", "")
        if text.startswith("too soon"):   # what the commander answers while the experts node loads
            return CommandOutcome(False, int(ErrorCode.EXPERT_NOT_READY), "no command handler: the experts node is "
                                  "not running or not active", "Sorry, I can't do that right now. Nothing was moved.",
                                  "[]", "")
        return CommandOutcome(True, 0, "", f"You said: {text}", "[]", "general")

    # -- inference ---------------------------------------------------------------------------
    def _answer(self, request: GenerateRequest) -> str:
        return f"echo: {request.prompt}"

    def _outcome(self, request: GenerateRequest, text: str) -> GenerateOutcome:
        return GenerateOutcome(text=text, expert=request.expert or "general", route_confidence=0.8,
                               routed_to_fallback=False, finish_reason="stop",
                               prompt_tokens=len(request.prompt.split()), completion_tokens=len(text.split()),
                               time_to_first_token_ms=5.0, tokens_per_second=100.0, inference_time_ms=20.0)

    async def generate(self, request: GenerateRequest) -> GenerateOutcome:
        self._enter("generate", request)
        if request.expert == "missing":
            raise EmbodiedError("no expert 'missing'", ErrorCode.EXPERT_NOT_FOUND)
        return self._outcome(request, self._answer(request))

    async def generate_stream(self, request: GenerateRequest) -> AsyncGenerator[GenerateEvent, None]:
        self._enter("generate_stream", request)
        words = self._answer(request).split()
        for count, word in enumerate(words, start=1):
            yield GenerateChunk(word if count == 1 else f" {word}", count)
            if "stream_error" in self.failures:
                raise self.failures["stream_error"]
        yield self._outcome(request, " ".join(words))

    async def route(self, prompt: str) -> RouteOutcome:
        self._enter("route", prompt)
        return RouteOutcome("math", 0.9, False, ["math", "general"], [0.9, 0.1])

    def router_statistics(self) -> RouterStatistics:
        self._enter("router_statistics")
        return RouterStatistics(total_requests=10, fallback_rate=0.1, experts=["general", "math"], selections=[7, 0],
                                average_confidence=[0.8, math.nan], feedback_accuracy=[math.nan, math.nan],
                                issues=self.router_issues, age_s=0.5)

    async def retrain_router(self, training_data: Path, num_epochs: int) -> RouterRetrained:
        self._enter("retrain_router", (training_data, num_epochs))
        return RouterRetrained(f"gate 2 trained on {training_data.name}", 2, ["general", "math"], 0.95,
                               self.retrain_row_errors)

    # -- experts -----------------------------------------------------------------------------
    def _find(self, expert: str) -> ExpertRecord:
        for record in self.experts.values():
            if expert in (str(record.id), record.name):
                return record
        raise EmbodiedError(f"no expert '{expert}'", ErrorCode.EXPERT_NOT_FOUND)

    async def list_experts(self, query: ExpertFilter) -> ExpertList:
        self._enter("list_experts", query)
        found = [e for e in self.experts.values()
                 if query.category in ("", e.category) and query.status in ("", e.status)]
        return ExpertList(found[query.offset:query.offset + query.limit], len(found))

    async def get_expert(self, expert: str) -> ExpertRecord:
        self._enter("get_expert", expert)
        return self._find(expert)

    async def create_expert(self, spec: ExpertSpec) -> ExpertCreated:
        self._enter("create_expert", spec)
        if any(e.name == spec.name for e in self.experts.values()):
            raise EmbodiedError(f"an expert '{spec.name}' exists", ErrorCode.EXPERT_CREATION_FAILED)
        record = ExpertRecord(
            id=len(self.experts) + 1, name=spec.name, domain=spec.domain, category=spec.category,
            status="initializing", config={"size": spec.size}, metrics={}, performance={}, total_calls=0,
            last_used=None, quantization=spec.quantization, total_params=None, kind=None, current_version=0,
            created_at="2026-01-02T03:04:05+00:00")
        self.experts[record.id] = record
        return ExpertCreated(record, 0.05)

    async def update_expert(self, expert: str, changes: ExpertChanges) -> ExpertRecord:
        self._enter("update_expert", (expert, changes))
        record = self._find(expert)
        status = "disabled" if changes.status == "disabled" else "ready" if changes.status else record.status
        updated = replace(record, domain=changes.domain or record.domain,
                          category=changes.category or record.category, status=status)
        self.experts[record.id] = updated
        return updated

    async def delete_expert(self, expert: str, hard_delete: bool) -> ExpertDeleted:
        self._enter("delete_expert", (expert, hard_delete))
        record = self._find(expert)
        del self.experts[record.id]
        return ExpertDeleted(record.id, "hard_deleted" if hard_delete else "deleted")

    async def resize_expert(self, expert: str, shape: ModelShape) -> ResizeStarted:
        self._enter("resize_expert", (expert, shape))
        record = self._find(expert)
        job = self._new_job(record.name)
        return ResizeStarted(record.id, record.name, job.job_id)

    def _new_job(self, expert: str) -> TrainingProgress:
        job = TrainingProgress(
            job_id=len(self.jobs) + 1, status="running", expert=expert, current_step=5, total_steps=20,
            current_epoch=1.25, total_epochs=2.0, current_loss=1.5, best_loss=1.4, train_loss=[2.0, 1.5],
            val_loss=[1.8], eta_s=7200.0, recent_logs=["step 5 loss 1.5"], checkpoint_saved=False, version=None,
            error=None)
        self.jobs[job.job_id] = job
        return job

    async def start_training(self, spec: TrainingSpec) -> TrainingStarted:
        self._enter("start_training", spec)
        record = self._find(str(spec.expert_id))
        job = self._new_job(record.name)
        self.emit("training", "progress", {"job_id": job.job_id, "status": job.status})
        return TrainingStarted(job.job_id, job.status, job.eta_s)

    async def training_status(self, job_id: int) -> TrainingProgress:
        self._enter("training_status", job_id)
        if job_id not in self.jobs:
            raise EmbodiedError(f"no training job {job_id}", ErrorCode.TRAINING_FAILED)
        return self.jobs[job_id]

    async def stop_training(self, job_id: int) -> TrainingStopped:
        self._enter("stop_training", job_id)
        job = await self.training_status(job_id)
        if job.status != "running":
            raise EmbodiedError(f"training job {job_id} is {job.status}; only a running job stops",
                                ErrorCode.TRAINING_FAILED)
        self.jobs[job_id] = replace(job, status="stopped", checkpoint_saved=True)
        return TrainingStopped("stopped", True)
