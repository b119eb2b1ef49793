"""The port through which the REST bridge reaches the robot graph.

The HTTP app (this package) only ever talks to a ``RobotGraph``; the bridge node implements it
with rclpy action and service clients and a cache of subscribed topics
(``embodied_ros.bridge_graph``). This is rosbridge_suite's split of protocol core and
transport: the core holds no robot logic and imports no ROS, so it is tested without a graph
and could sit on another transport.

Units are the graph's (radians, newtons, degrees C); the HTTP layer converts to the seed's
units (degrees) at its edge. Every method raises ``GraphUnavailable`` when the node that
serves it is not in the running graph, and ``EmbodiedError`` with a seed code when the node
refused or failed the request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from embodied_ai.bridge.schemas.experts import (ExpertCreate, ExpertCreated, ExpertDeleted, ExpertDetail,
                                                ExpertPage, ExpertQuery, ExpertResize, ExpertUpdate)
from embodied_ai.bridge.schemas.training import (DatasetInfo, TrainingJob, TrainingStart, TrainingStatus,
                                                 TrainingStopped)
from embodied_ai.errors import GraphTimeout, GraphUnavailable, seed_code  # noqa: F401 - re-exported


# -- hardware -----------------------------------------------------------------------------
@dataclass(frozen=True)
class MoveOutcome:
    joint_names: list[str]
    positions: list[float]  # radians, measured at the end
    time_ms: float


@dataclass(frozen=True)
class GraspOutcome:
    grasped: bool
    force_applied: float  # newtons
    time_ms: int


@dataclass(frozen=True)
class TriggerOutcome:
    """A std_srvs/Trigger that succeeded (a refused one raises EmbodiedError)."""

    message: str


@dataclass(frozen=True)
class SensorSnapshot:
    """The latest subscribed state. ``age_s`` is how old the joint_states message is."""

    joint_positions: dict[str, float]  # radians
    joint_velocities: dict[str, float]  # rad/s
    forces: dict[str, float]  # newtons
    temperatures: dict[str, float]  # degrees C
    joint_faults: dict[str, str]  # only the faulted joints
    cameras: dict[str, str]  # camera name -> "active" | "stale" | "absent"
    emergency_stop: bool
    emergency_stop_reason: str
    backend: str
    loop_rate_hz: float
    age_s: float


@dataclass(frozen=True)
class CameraFrame:
    camera: str
    jpeg: bytes
    width: int
    height: int
    stamp: float  # seconds, the capture stamp
    detections: list[Detection] = field(default_factory=list)


# -- perception ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Detection:
    label: str
    score: float
    bbox: tuple[float, float, float, float]  # x_min, y_min, x_max, y_max in pixels
    object_id: int = -1  # stable id from the tracker; -1 when untracked


@dataclass(frozen=True)
class DetectOutcome:
    detections: list[Detection]
    inference_time_ms: float


# -- speech -------------------------------------------------------------------------------
@dataclass(frozen=True)
class TranscribeOutcome:
    text: str
    language: str
    confidence: float
    duration_s: float


@dataclass(frozen=True)
class SpeakOutcome:
    wav: bytes
    duration_s: float


@dataclass(frozen=True)
class CommandOutcome:
    success: bool
    error_code: int
    message: str
    reply: str
    actions_json: str
    expert: str


# -- experts ------------------------------------------------------------------------------
@dataclass(frozen=True)
class GenerateRequest:
    prompt: str
    expert: str = ""  # "" lets the router choose
    system: str = ""
    max_tokens: int = 0  # 0 = the expert's default
    temperature: float = 0.0
    top_p: float = 0.0
    stop: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class GenerateOutcome:
    text: str
    expert: str
    route_confidence: float
    routed_to_fallback: bool
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    time_to_first_token_ms: float
    tokens_per_second: float
    inference_time_ms: float


@dataclass(frozen=True)
class GenerateChunk:
    """One feedback message of the generate action: new text since the previous one."""

    text: str
    completion_tokens: int


# A stream yields chunks, then exactly one GenerateOutcome.
GenerateEvent = GenerateChunk | GenerateOutcome


@dataclass(frozen=True)
class RouteOutcome:
    expert: str
    confidence: float
    fallback: bool
    candidates: list[str]
    scores: list[float]


@dataclass(frozen=True)
class RouterStatistics:
    total_requests: int
    fallback_rate: float
    experts: list[str]
    selections: list[int]
    average_confidence: list[float]
    feedback_accuracy: list[float]  # NaN while an expert has no feedback
    issues: list[str]
    age_s: float


@dataclass(frozen=True)
class GraphEvent:
    """Something the graph reported, for the WebSocket channels."""

    channel: str  # "hardware" | "inference" | "training" | "cameras"
    event: str
    data: dict[str, object]


EventListener = Callable[[GraphEvent], None]


class RobotGraph(Protocol):
    """What the bridge needs from the robot graph. Implementations must be safe to call
    from the asyncio loop; listeners may be called from any thread."""

    # hardware (servo controller, sensors)
    async def move_joints(self, positions: dict[str, float], duration_s: float | None,
                          relative: bool) -> MoveOutcome: ...
    async def grasp(self, side: str, force: float, object_id: int) -> GraspOutcome: ...  # side "": the default arm
    async def emergency_stop(self) -> TriggerOutcome: ...
    async def reset_emergency_stop(self) -> TriggerOutcome: ...
    def sensors(self) -> SensorSnapshot: ...
    def camera_frame(self, camera: str) -> CameraFrame: ...

    # perception and speech
    async def detect(self, image: bytes) -> DetectOutcome: ...
    async def transcribe(self, audio: bytes, language: str) -> TranscribeOutcome: ...
    async def synthesize(self, text: str, speed: float) -> SpeakOutcome: ...
    async def handle_command(self, text: str) -> CommandOutcome: ...

    # experts
    async def generate(self, request: GenerateRequest) -> GenerateOutcome: ...
    def generate_stream(self, request: GenerateRequest) -> AsyncIterator[GenerateEvent]: ...
    async def route(self, prompt: str) -> RouteOutcome: ...
    def router_statistics(self) -> RouterStatistics: ...
    async def retrain_router(self, training_data: Path, num_epochs: int) -> str: ...

    # the expert registry and training (the experts node's; the seed's shapes are the port's)
    async def list_experts(self, query: ExpertQuery) -> ExpertPage: ...
    async def get_expert(self, expert_id: str) -> ExpertDetail: ...
    async def create_expert(self, spec: ExpertCreate) -> ExpertCreated: ...
    async def update_expert(self, expert_id: str, changes: ExpertUpdate) -> ExpertDetail: ...
    async def delete_expert(self, expert_id: str, hard_delete: bool) -> ExpertDeleted: ...
    async def resize_expert(self, expert_id: str, size: ExpertResize) -> ExpertCreated: ...
    async def register_dataset(self, path: Path, expert_id: str, name: str) -> DatasetInfo: ...
    async def start_training(self, spec: TrainingStart) -> TrainingJob: ...
    async def training_status(self, job_id: int) -> TrainingStatus: ...
    async def stop_training(self, job_id: int) -> TrainingStopped: ...

    # introspection
    def components(self) -> dict[str, str]:
        """Each graph component the bridge uses -> "ok" | "unavailable" | an error text."""
        ...

    def subscribe(self, listener: EventListener) -> Callable[[], None]:
        """Call ``listener`` for every GraphEvent; returns the function that unsubscribes."""
        ...
