"""Diagnostic statuses derived from the hardware state, independent of ROS message types.

The sensors node turns these into diagnostic_msgs/DiagnosticArray; levels follow
diagnostic_msgs/DiagnosticStatus (OK 0, WARN 1, ERROR 2, STALE 3).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum


class Level(IntEnum):
    OK = 0
    WARN = 1
    ERROR = 2
    STALE = 3


@dataclass(frozen=True)
class Status:
    name: str
    level: Level
    message: str
    hardware_id: str = ""
    values: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HardwareView:
    """The parts of a HardwareState message that diagnostics need."""

    backend: str
    loop_rate_hz: float
    joint_names: Sequence[str]
    temperatures: Sequence[float]
    joint_faults: Sequence[str]
    joint_warnings: Sequence[str]
    forces: Mapping[str, float]
    imu_available: bool
    emergency_stop: bool
    emergency_stop_reason: str


def hardware_statuses(state: HardwareView, expected_rate_hz: float) -> list[Status]:
    statuses = [
        Status(
            "servo_controller: emergency stop",
            Level.ERROR if state.emergency_stop else Level.OK,
            f"latched: {state.emergency_stop_reason}" if state.emergency_stop else "released",
            state.backend,
        ),
        Status(
            "servo_controller: control loop",
            Level.WARN if state.loop_rate_hz < 0.9 * expected_rate_hz else Level.OK,
            f"{state.loop_rate_hz:.1f} Hz (expected {expected_rate_hz:.0f} Hz)",
            state.backend,
            {"rate_hz": f"{state.loop_rate_hz:.1f}"},
        ),
    ]
    for i, joint in enumerate(state.joint_names):
        fault = state.joint_faults[i] if i < len(state.joint_faults) else ""
        warning = state.joint_warnings[i] if i < len(state.joint_warnings) else ""
        temperature = state.temperatures[i] if i < len(state.temperatures) else math.nan
        level = Level.ERROR if fault else Level.WARN if warning else Level.OK
        statuses.append(Status(
            f"motor: {joint}", level, fault or warning or "ok", f"{state.backend}:{joint}",
            {"temperature_c": "unknown" if math.isnan(temperature) else f"{temperature:.1f}"},
        ))
    statuses.append(Status(
        "sensors: grippers", Level.OK, "ok", state.backend,
        {name: f"{force:.2f} N" for name, force in state.forces.items()},
    ))
    statuses.append(Status(
        "sensors: imu", Level.OK if state.imu_available else Level.WARN,
        "ok" if state.imu_available else "this hardware back end has no IMU", state.backend,
    ))
    return statuses


def stale_status(seconds_since: float | None) -> Status:
    message = ("no hardware state received yet" if seconds_since is None
               else f"no hardware state for {seconds_since:.1f} s")
    return Status("servo_controller: connection", Level.STALE, message)
