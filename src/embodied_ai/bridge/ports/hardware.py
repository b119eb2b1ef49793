"""The hardware port: the servo controller (moves, grasps, the emergency stop), the sensors'
state and the cameras' latest frames.

Units are the graph's (radians, newtons, degrees C); the HTTP layer converts to the API's
(degrees) at its edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from embodied_ai.bridge.ports.common import Detection

CameraState = Literal["active", "stale", "absent"]  # a frame within the last second | older | none yet


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
    cameras: dict[str, CameraState]
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


class HardwarePort(Protocol):
    """Safe to call from the asyncio loop; the reads (sensors, camera_frame) cost nothing on
    the graph (they read the latest subscribed messages)."""

    async def move_joints(self, positions: dict[str, float], duration_s: float | None,
                          relative: bool) -> MoveOutcome: ...

    async def grasp(self, side: str, force: float, object_id: int) -> GraspOutcome:
        """``side`` "": the default arm; ``object_id`` -1: whatever is between the fingers."""
        ...

    async def emergency_stop(self) -> TriggerOutcome: ...

    async def reset_emergency_stop(self) -> TriggerOutcome: ...

    def sensors(self) -> SensorSnapshot: ...

    def camera_frame(self, camera: str) -> CameraFrame: ...
