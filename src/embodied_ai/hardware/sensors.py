"""The sensors node's logic without ROS: its parameters, which readings it broadcasts, and the
diagnostics of the hardware state the servo controller reports (hardware_state).

``HardwareStateWatch`` keeps the newest state; its statuses are STALE when none came for
``stale_after_s``, and ``update`` says when /diagnostics must go out at once (a level changed,
or the state carries safety events) instead of at the next period.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field

from embodied_ai.diagnostics import HardwareView, Level, Status, hardware_statuses, stale_status
from embodied_ai.robot.description import FORCE_SENSOR_FRAMES


class SensorsConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    diagnostics_rate_hz: float = Field(
        default=1.0, gt=0, description="how often /diagnostics is published, Hz (a change of level goes out at once)")
    expected_loop_rate_hz: float = Field(
        default=200.0, gt=0, description="the servo controller's rate_hz; a measured loop rate under 90 % of it "
                                         "is reported as WARN, Hz")
    stale_after_s: float = Field(
        default=1.0, gt=0, description="no hardware_state for this long makes the servo controller's connection "
                                       "STALE, s")


def force_readings(state: HardwareView) -> dict[str, float]:
    """Grip forces by force sensor (N), for the sensors the robot contract names."""
    return {name: float(force) for name, force in state.forces.items() if name in FORCE_SENSOR_FRAMES}


def temperature_readings(state: HardwareView) -> dict[str, float]:
    """Motor temperatures by joint (degrees C); a back end that cannot read one reports NaN: skipped."""
    return {joint: float(t) for joint, t in zip(state.joint_names, state.temperatures) if not math.isnan(t)}


class HardwareStateWatch:
    def __init__(self, expected_rate_hz: float, stale_after_s: float, clock: Callable[[], float] = time.monotonic):
        self.expected_rate_hz = expected_rate_hz
        self.stale_after_s = stale_after_s
        self._clock = clock
        self._state: HardwareView | None = None
        self._received: float | None = None
        self._reported: dict[str, Level] = {}

    def update(self, state: HardwareView, has_events: bool = False) -> bool:
        """Take a new state; True when /diagnostics should be published now."""
        self._state, self._received = state, self._clock()
        levels = {s.name: s.level for s in self.statuses()}
        return levels != self._reported or has_events

    def statuses(self) -> list[Status]:
        since = None if self._received is None else self._clock() - self._received
        if self._state is None or since is None or since > self.stale_after_s:
            return [stale_status(since)]
        return hardware_statuses(self._state, self.expected_rate_hz)

    def report(self) -> list[Status]:
        """The statuses to publish now (their levels are what later changes are measured against)."""
        statuses = self.statuses()
        self._reported = {s.name: s.level for s in statuses}
        return statuses
