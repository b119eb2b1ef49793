"""Hardware Control API (the Robot API): degrees at the API, radians in ROS (REP-103)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from embodied_ai.bridge.schemas.common import Strict

JointName = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_]+$", examples=["shoulder_pitch_r"])


class ServoMove(Strict):
    joint_name: str = JointName
    angle: float = Field(description="target angle in degrees (or an offset with relative=true)",
                         allow_inf_nan=False, examples=[45.0])
    duration_ms: int | None = Field(default=None, ge=0, le=60_000,
                                    description="move duration; omitted = the controller's default speed")
    relative: bool = Field(default=False, description="angle is an offset from the current setpoint")


class ServoMoved(BaseModel):
    joint_name: str
    angle: float = Field(description="measured angle at the end of the move, degrees")
    target: float = Field(description="the requested angle, degrees")
    time_ms: float


class GraspCommand(Strict):
    object_id: int | None = Field(default=None, ge=-1, le=2**31 - 1,
                                  description="an object id from perception; omitted or -1 = whatever is "
                                              "between the fingers")
    force: float = Field(gt=0, le=1000, allow_inf_nan=False,
                         description="target grip force in newtons (the controller caps it and refuses more)")
    side: Literal["l", "r"] | None = Field(default=None, description="the hand; omitted: the right one, or with "
                                                         "object_id the arm that can reach the object")


class GraspResult(BaseModel):
    grasped: bool
    force_applied: float
    time_ms: int


class Sensors(BaseModel):
    joint_positions: dict[str, float] = Field(description="degrees")
    joint_velocities: dict[str, float] = Field(description="degrees per second")
    forces: dict[str, float] = Field(description="newtons, per force sensor")
    temperatures: dict[str, float] = Field(description="motor temperature in degrees C, per joint")
    cameras: dict[str, Literal["active", "stale", "absent"]]
    joint_faults: dict[str, str] = Field(description="only joints the controller has stopped, with why")
    emergency_stop: bool
    emergency_stop_reason: str
    backend: str
    control_loop_hz: float
    age_ms: float = Field(description="age of the joint state this snapshot was read from")


class EmergencyStopResult(BaseModel):
    latched: bool
    message: str
